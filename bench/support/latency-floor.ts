import {
  type ArmRow,
  fetchRankedRows,
  type SearchableCollection,
  vectorCandidates,
} from '../../src/db/chunk-search.js'
import type { Database } from '../../src/db/pool.js'
import { queryLexemes } from '../../src/db/text-postings.js'
import { type Bm25Snapshot, searchSnapshot } from '../../src/retrieval/bm25-memory-index.js'
import { packPassages } from '../../src/retrieval/packing.js'
import { type RetrievalSettings, searchOptionsFor, toCandidate } from '../../src/retrieval/retrieve.js'
import { fuseAndLimit } from '../../src/retrieval/search.js'
import { RetrieveRequest } from '../../src/retrieval/types.js'

/** Rows read per statement while the floor loads every chunk. */
const PAGE = 5000

/**
 * A floor under any design of hybrid retrieval at this size, timed beside the real one (issue 16's latency
 * target): retrieve()'s hybrid search with everything that is not the vector statement made as cheap as
 * it could be made. The question's lexemes are computed before timing (as a stemmer in process would give
 * them), every chunk's row is held in memory (as a design keeping the collection's text in process would),
 * and there is no HTTP. What is left is what any such design does per question: the request's parse and
 * options, the vector statement (ids and distances) with the in-process BM25 ranking running meanwhile,
 * fusion, packing and the answer's JSON, each with the code retrieve() uses. Not a product path: no text
 * version is checked, so it holds only while nothing writes to the collection (true in the benchmark).
 * The benchmark checks after timing that it gave every query exactly retrieve()'s answer (checkFloor).
 */
export async function latencyFloor(input: {
  db: Database
  collection: SearchableCollection
  snapshot: Bm25Snapshot
  settings: RetrievalSettings
  queries: readonly string[]
  vectors: ReadonlyMap<string, number[]>
  prepared: boolean
}): Promise<(query: string) => Promise<unknown>> {
  const { db, collection, snapshot, settings } = input
  const { rows: ids } = await db.pool.query<{ id: number }>(
    'SELECT id FROM chunks WHERE collection_id = $1 ORDER BY id',
    [collection.collectionId],
  )
  const rows = new Map<number, ArmRow>()
  for (let i = 0; i < ids.length; i += PAGE) {
    const page = ids.slice(i, i + PAGE).map((row) => row.id)
    const fetched = await fetchRankedRows(db.pool, collection, snapshot.version, page)
    if (!fetched.textCurrent || !fetched.collectionCurrent)
      throw new Error('the collection changed while the floor read its rows')
    for (const row of fetched.rows) rows.set(row.id, row)
  }
  const lexemes = new Map<string, string[]>()
  for (const query of input.queries)
    lexemes.set(query, await queryLexemes(db.pool, collection.textSearchConfig, query))

  return async (query) => {
    const request = RetrieveRequest.parse({ collection: collection.name, query, k: 10 })
    const options = searchOptionsFor(request, settings, undefined, collection)
    const vector = vectorCandidates(db.pool, collection, options, input.vectors.get(query)!, input.prepared)
    // One turn, as retrieve() waits for its lexemes: the vector statement is sent before the ranking runs.
    await new Promise((resolve) => setImmediate(resolve))
    const { bm25, candidates } = options
    const ranked = searchSnapshot(snapshot, lexemes.get(query)!, bm25.k1, bm25.b, candidates)
    const lexical = ranked.ids.map((id, i) => ({ id, score: ranked.scores[i] as number }))
    const fused = fuseAndLimit(await vector, lexical, options)
    const packed = packPassages(
      fused.map((item) => toCandidate({ ...rows.get(item.id)!, ...item })),
      { k: request.k, kUnit: request.kUnit, budgetTokens: request.budgetTokens },
    )
    return JSON.parse(JSON.stringify({ collection: collection.name, mode: 'hybrid', ...packed }))
  }
}
