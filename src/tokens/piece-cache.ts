/**
 * A bounded map from piece to its tokens, approximately least-recently-used with two generations:
 * entries go into the young map; when it is full it becomes the old map (the previous old one is
 * dropped) and a hit in the old map is copied back into the young one. So at most 2 × generationSize
 * entries, each key at most maxKeyLength chars: hostile input full of unique pieces cannot grow it
 * without bound, while the words of normal text stay in it. A hit costs one or two Map lookups and
 * no bookkeeping, which a strict LRU would add to every hit.
 */
export class PieceCache<V> {
  private young = new Map<string, V>()
  private old = new Map<string, V>()

  constructor(
    private readonly generationSize: number,
    readonly maxKeyLength: number,
  ) {}

  get(key: string): V | undefined {
    const young = this.young.get(key)
    if (young !== undefined) return young
    const old = this.old.get(key)
    if (old !== undefined) this.put(key, old)
    return old
  }

  set(key: string, value: V): void {
    if (key.length <= this.maxKeyLength) this.put(key, value)
  }

  get size(): number {
    return this.young.size + this.old.size
  }

  clear(): void {
    this.young = new Map()
    this.old = new Map()
  }

  private put(key: string, value: V): void {
    if (this.young.size >= this.generationSize) {
      this.old = this.young
      this.young = new Map()
    }
    this.young.set(key, value)
  }
}
