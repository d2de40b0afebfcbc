import type {
  ArmRow,
  LexicalArm,
  PendingSearchOptions,
  SearchOptions,
  SearchRow,
  SearchTarget,
} from '../db/chunk-search.js'
import { searchArms } from '../db/chunk-search.js'
import type { Queryable } from '../db/transaction.js'
import { fuseArms } from './fusion.js'

/** What a search found: the fused rows, and how many rows each arm returned (null: the arm did not run). */
export interface SearchResult {
  rows: SearchRow[]
  vectorCount: number | null
  lexicalCount: number | null
}

/**
 * Both arms (searchArms: at once on a pool; the lexical one through `lexicalArm` when given and able), fused by weighted z-scores (fusion.ts), best first, at
 * most `limit` rows. The vector arm is re-sorted by exact distance because `relaxed_order` may return
 * rows slightly out of order.
 */
export async function runSearch(
  db: Queryable,
  target: SearchTarget,
  options: PendingSearchOptions,
  lexicalArm?: LexicalArm,
): Promise<SearchResult> {
  const arms = await searchArms(db, target, options, lexicalArm)
  const vector = [...(arms.vector ?? [])].sort((a, b) => a.distance - b.distance || a.id - b.id)
  const lexical = [...(arms.lexical ?? [])].sort((a, b) => b.score - a.score || a.id - b.id)
  const byId = new Map<number, ArmRow>()
  for (const row of [...vector, ...lexical]) if (!byId.has(row.id)) byId.set(row.id, row)
  const distances = new Map(vector.map((row) => [row.id, row.distance]))
  const scores = new Map(lexical.map((row) => [row.id, row.score]))
  const fused = fuseArms(
    vector.map((row) => ({ id: row.id, score: 1 - row.distance })),
    lexical.map((row) => ({ id: row.id, score: row.score })),
    options.lexicalWeight,
  )
  const rows = fused.slice(0, options.limit).map((item, i): SearchRow => {
    const {
      distance: _d,
      score: _s,
      ...columns
    } = byId.get(item.id) as ArmRow & { distance?: number; score?: number }
    return {
      ...columns,
      distance: distances.get(item.id) ?? null,
      vectorRank: item.vectorRank,
      lexicalScore: scores.get(item.id) ?? null,
      lexicalRank: item.lexicalRank,
      fused: item.fused,
      fusedRank: i + 1,
    }
  })
  return { rows, vectorCount: arms.vector?.length ?? null, lexicalCount: arms.lexical?.length ?? null }
}

/** The fused rows of a search (runSearch without the arm counts). */
export async function searchChunks(
  db: Queryable,
  target: SearchTarget,
  options: SearchOptions,
): Promise<SearchRow[]> {
  return (await runSearch(db, target, options)).rows
}
