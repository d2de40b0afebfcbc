import type {
  ArmRow,
  PendingSearchOptions,
  SearchOptions,
  SearchRow,
  SearchTarget,
} from '../db/chunk-search.js'
import { fetchRankedRows, runsLexicalArm, searchArms, vectorCandidates } from '../db/chunk-search.js'
import type { Queryable } from '../db/transaction.js'
import type { LexicalPlan, LexicalPlanner } from './bm25-memory-index.js'
import { fuseArms } from './fusion.js'

/** What a search found: the fused rows, and how many rows each arm returned (null: the arm did not run). */
export interface SearchResult {
  rows: SearchRow[]
  vectorCount: number | null
  lexicalCount: number | null
}

/**
 * Both arms (searchArms: at once on a pool), fused by weighted z-scores (fusion.ts), best first, at
 * most `limit` rows (fuseAndLimit ranks each arm). With `lexical` (the in-process BM25 index) able to rank this search, the
 * rows are read after fusion instead (rankedSearch).
 */
export async function runSearch(
  db: Queryable,
  target: SearchTarget,
  options: PendingSearchOptions,
  lexical?: LexicalPlanner,
): Promise<SearchResult> {
  const plan = lexical !== undefined && runsLexicalArm(options) ? lexical(target, options) : undefined
  if (plan !== undefined) {
    const ranked = await rankedSearch(db, target, options, plan)
    if (ranked !== undefined) return ranked
  }
  const arms = await searchArms(db, target, options)
  const vector = arms.vector ?? []
  const lexicalRows = arms.lexical ?? []
  const byId = new Map<number, ArmRow>()
  for (const row of [...vector, ...lexicalRows]) if (!byId.has(row.id)) byId.set(row.id, row)
  const fused = fuseAndLimit(vector, lexicalRows, options)
  const rows = fused.map((item) => {
    const {
      distance: _d,
      score: _s,
      ...columns
    } = byId.get(item.id) as ArmRow & {
      distance?: number
      score?: number
    }
    return { ...columns, ...item }
  })
  return { rows, vectorCount: arms.vector?.length ?? null, lexicalCount: arms.lexical?.length ?? null }
}

type FusedColumns = Pick<
  SearchRow,
  'distance' | 'vectorRank' | 'lexicalScore' | 'lexicalRank' | 'fused' | 'fusedRank'
> & { id: number }

/**
 * The arms' candidates fused, best first, at most `limit`, with each arm's score and rank. Each arm is
 * ranked here (nearest, then highest score; ties by id): `relaxed_order` may return the vector arm's rows
 * slightly out of order. Exported for the latency benchmark's floor (bench/support/latency-floor.ts).
 */
export function fuseAndLimit(
  vectorRows: readonly { id: number; distance: number }[],
  lexicalRows: readonly { id: number; score: number }[],
  options: Pick<PendingSearchOptions, 'lexicalWeight' | 'limit'>,
): FusedColumns[] {
  const vector = [...vectorRows].sort((a, b) => a.distance - b.distance || a.id - b.id)
  const lexical = [...lexicalRows].sort((a, b) => b.score - a.score || a.id - b.id)
  const distances = new Map(vector.map((row) => [row.id, row.distance]))
  const scores = new Map(lexical.map((row) => [row.id, row.score]))
  const fused = fuseArms(
    vector.map((row) => ({ id: row.id, score: 1 - row.distance })),
    lexical.map((row) => ({ id: row.id, score: row.score })),
    options.lexicalWeight,
  )
  return fused.slice(0, options.limit).map((item, i) => ({
    id: item.id,
    distance: distances.get(item.id) ?? null,
    vectorRank: item.vectorRank,
    lexicalScore: scores.get(item.id) ?? null,
    lexicalRank: item.lexicalRank,
    fused: item.fused,
    fusedRank: i + 1,
  }))
}

/**
 * A search whose lexical arm is ranked in process: the vector arm's ids and distances and the BM25
 * ranking at once, fused, then only the fused rows read, at the index's text version (one statement
 * fewer rows: 30 instead of each arm's 40 with their text). Undefined when the text changed since the
 * index was built, or the question is too broad for the index (maxQueryPostings): the caller searches
 * with SQL.
 */
async function rankedSearch(
  db: Queryable,
  target: SearchTarget,
  options: PendingSearchOptions,
  plan: LexicalPlan,
): Promise<SearchResult | undefined> {
  const ranking = plan.rank()
  // Handled here at once: if it failed while the query is still being embedded, the rejection would
  // otherwise count as unhandled. Promise.all below still sees it.
  ranking.catch(() => {})
  const vectorRows =
    options.queryVector === undefined
      ? undefined
      : vectorCandidates(db, target, options, await options.queryVector, plan.prepared)
  const [vectorFound, lexicalFound] = await Promise.all([vectorRows, ranking])
  if (lexicalFound === undefined) return undefined
  const lexical = lexicalFound.ids.map((id, i) => ({ id, score: lexicalFound.scores[i] as number }))
  const fused = fuseAndLimit(vectorFound ?? [], lexical, options)
  const fetched = await fetchRankedRows(
    db,
    target,
    plan.version,
    fused.map((item) => item.id),
    plan.prepared,
  )
  if (!fetched.textCurrent) {
    plan.stale(fetched.textVersion)
    return undefined
  }
  const vectorCount = vectorFound === undefined ? null : vectorFound.length
  // The collection row changed: nothing, as the arms' statements would have returned.
  if (!fetched.collectionCurrent)
    return { rows: [], vectorCount: vectorCount === null ? null : 0, lexicalCount: 0 }
  // Every fused chunk is there: the text version is the index's, so no chunk was added or removed.
  const byId = new Map(fetched.rows.map((row) => [row.id, row]))
  const rows = fused.flatMap((item) => {
    const row = byId.get(item.id)
    return row === undefined ? [] : [{ ...row, ...item }]
  })
  return { rows, vectorCount, lexicalCount: lexical.length }
}

/** The fused rows of a search (runSearch without the arm counts). */
export async function searchChunks(
  db: Queryable,
  target: SearchTarget,
  options: SearchOptions,
): Promise<SearchRow[]> {
  return (await runSearch(db, target, options)).rows
}
