/**
 * A small LRU of query embeddings with a TTL. Repeated queries (the same task prompt, a user
 * retrying) skip the model call. Entries hold the promise, so concurrent identical queries share
 * one call; a failed call is evicted at once so the next request retries. A Map keeps insertion
 * order, which is all an LRU needs: re-inserting on a hit moves the key to the young end.
 */
export class QueryEmbeddingCache {
  readonly #entries = new Map<string, { value: Promise<number[]>; expiresAt: number }>()
  readonly #maxEntries: number
  readonly #ttlMs: number
  readonly #now: () => number

  constructor(options: { maxEntries: number; ttlMs: number; now?: () => number }) {
    this.#maxEntries = options.maxEntries
    this.#ttlMs = options.ttlMs
    this.#now = options.now ?? Date.now
  }

  get size(): number {
    return this.#entries.size
  }

  getOrCompute(key: string, compute: () => Promise<number[]>): Promise<number[]> {
    if (this.#maxEntries === 0 || this.#ttlMs === 0) return compute()
    const now = this.#now()
    const hit = this.#entries.get(key)
    if (hit !== undefined) {
      this.#entries.delete(key)
      if (hit.expiresAt > now) {
        this.#entries.set(key, hit)
        return hit.value
      }
    }
    const entry = { value: compute(), expiresAt: now + this.#ttlMs }
    this.#entries.set(key, entry)
    entry.value.catch(() => {
      if (this.#entries.get(key) === entry) this.#entries.delete(key)
    })
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value as string
      this.#entries.delete(oldest)
    }
    return entry.value
  }
}

/** Model and dimension are part of the key: two collections may share a query text but not a model. */
export function queryEmbeddingKey(model: string, dimensions: number, query: string): string {
  return `${model}\u0000${dimensions}\u0000${query}`
}
