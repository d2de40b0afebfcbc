/**
 * A bounded map from piece to its tokens, looked up by the piece's place in the text (text, start, end)
 * so that a hit allocates nothing: no substring, no engine string hash. Open addressing over a table
 * twice the generation size.
 *
 * Approximately least-recently-used with two generations: entries go into the young table; when it is
 * full it becomes the old one (the previous old one is dropped), and a hit in the old table is copied
 * back into the young one. So at most 2 × generationSize entries, each key at most maxKeyLength chars:
 * hostile input full of unique pieces cannot grow it without bound, while the words of normal text stay.
 */
export class PieceCache<V> {
  private young: Generation<V>
  private old: Generation<V>

  constructor(
    private readonly generationSize: number,
    readonly maxKeyLength: number,
  ) {
    this.young = new Generation(generationSize)
    this.old = new Generation(0)
  }

  /** The value cached for text.slice(start, end), if any. */
  find(text: string, start: number, end: number): V | undefined {
    if (end - start > this.maxKeyLength) return undefined
    const hash = hashRegion(text, start, end)
    const young = this.young.find(text, start, end, hash)
    if (young !== undefined) return young
    const old = this.old.find(text, start, end, hash)
    if (old !== undefined) this.put(text.substring(start, end), hash, old)
    return old
  }

  get(key: string): V | undefined {
    return this.find(key, 0, key.length)
  }

  set(key: string, value: V): void {
    if (key.length <= this.maxKeyLength) this.put(key, hashRegion(key, 0, key.length), value)
  }

  get size(): number {
    return this.young.size + this.old.size
  }

  clear(): void {
    this.young = new Generation(this.generationSize)
    this.old = new Generation(0)
  }

  private put(key: string, hash: number, value: V): void {
    if (this.young.size >= this.generationSize) {
      this.old = this.young
      this.young = new Generation(this.generationSize)
    }
    this.young.insert(key, hash, value)
  }
}

class Generation<V> {
  size = 0
  private readonly mask: number
  private readonly keys: (string | undefined)[]
  private readonly hashes: Int32Array
  private readonly values: (V | undefined)[]

  constructor(entries: number) {
    // At most half full, so probes stay short.
    let capacity = 2
    while (capacity < entries * 2) capacity *= 2
    this.mask = capacity - 1
    this.keys = new Array<string | undefined>(capacity).fill(undefined)
    this.hashes = new Int32Array(capacity)
    this.values = new Array<V | undefined>(capacity).fill(undefined)
  }

  find(text: string, start: number, end: number, hash: number): V | undefined {
    const length = end - start
    for (let slot = hash & this.mask; ; slot = (slot + 1) & this.mask) {
      const key = this.keys[slot]
      if (key === undefined) return undefined
      if (this.hashes[slot] === hash && key.length === length && sameChars(key, text, start))
        return this.values[slot]
    }
  }

  /** Adds or replaces a key; the caller keeps the table at most half full. */
  insert(key: string, hash: number, value: V): void {
    let slot = hash & this.mask
    for (; this.keys[slot] !== undefined; slot = (slot + 1) & this.mask) {
      if (this.hashes[slot] === hash && this.keys[slot] === key) {
        this.values[slot] = value
        return
      }
    }
    this.keys[slot] = key
    this.hashes[slot] = hash
    this.values[slot] = value
    this.size++
  }
}

function sameChars(key: string, text: string, start: number): boolean {
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) !== text.charCodeAt(start + i)) return false
  return true
}

/** FNV-1a over the UTF-16 code units of text[start, end). */
function hashRegion(text: string, start: number, end: number): number {
  let hash = 0x811c9dc5
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193)
  return hash
}
