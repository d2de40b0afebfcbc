import type { SearchableCollection } from '../db/chunk-search.js'

/**
 * What retrieval last read about a collection, by name, so a search costs no lookup statement of its
 * own. Nothing here is trusted blindly: every search statement re-checks the collection row it was
 * built from (chunk-search.ts, guardClause) and returns no rows when the row changed (renamed,
 * deleted, recreated, re-weighted), and retrieve() looks the collection up again whenever an arm came
 * back empty, so a stale entry costs one extra lookup and never a wrong answer. Only collections with
 * embeddings are kept: for one without, the lookup is what notices the first embedded chunk.
 */
export class CollectionCache {
  readonly #entries = new Map<string, SearchableCollection>()

  constructor(private readonly maxEntries = 1000) {}

  get(name: string): SearchableCollection | undefined {
    return this.#entries.get(name)
  }

  set(collection: SearchableCollection): void {
    this.#entries.delete(collection.name)
    if (!collection.hasEmbeddings || this.maxEntries === 0) return
    this.#entries.set(collection.name, collection)
    while (this.#entries.size > this.maxEntries) this.#entries.delete(this.#entries.keys().next().value!)
  }

  delete(name: string): void {
    this.#entries.delete(name)
  }
}

/** Whether two lookups of a collection describe the same search (every field the statements depend on). */
export function sameCollection(a: SearchableCollection, b: SearchableCollection): boolean {
  return (
    a.collectionId === b.collectionId &&
    a.name === b.name &&
    a.embeddingModel === b.embeddingModel &&
    a.embeddingDimensions === b.embeddingDimensions &&
    a.textSearchConfig === b.textSearchConfig &&
    a.bm25.k1 === b.bm25.k1 &&
    a.bm25.b === b.bm25.b &&
    a.lexicalWeight === b.lexicalWeight &&
    a.hasEmbeddings === b.hasEmbeddings
  )
}
