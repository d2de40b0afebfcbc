/**
 * Reciprocal rank fusion (Cormack et al., 2009): each arm contributes 1 / (k + rank) for every item
 * it returned, ranks starting at 1. Ranks, not raw scores, are fused because cosine distances and
 * ts_rank_cd values live on unrelated scales.
 *
 * The search SQL computes the same sum in float8 in the same order (vector term first), so this
 * function is both the unit-tested definition and the reference the integration tests compare with.
 */
export interface RankedItem<Id> {
  id: Id
  vectorRank: number | null
  lexicalRank: number | null
  fused: number
}

function rrfTerm(k: number, rank: number | null): number {
  return rank === null ? 0 : 1 / (k + rank)
}

export function fusedScore(k: number, vectorRank: number | null, lexicalRank: number | null): number {
  return rrfTerm(k, vectorRank) + rrfTerm(k, lexicalRank)
}

/**
 * Fuse two rankings (best first). Ties on the fused score go to the item with the better single
 * rank, then to the smaller id, so the order is total and repeatable.
 */
export function fuseRankings<Id extends number | string>(
  vector: readonly Id[],
  lexical: readonly Id[],
  k: number,
): RankedItem<Id>[] {
  const items = new Map<Id, { vectorRank: number | null; lexicalRank: number | null }>()
  vector.forEach((id, index) => {
    if (!items.has(id)) items.set(id, { vectorRank: index + 1, lexicalRank: null })
  })
  lexical.forEach((id, index) => {
    const item = items.get(id)
    if (item === undefined) items.set(id, { vectorRank: null, lexicalRank: index + 1 })
    else if (item.lexicalRank === null) item.lexicalRank = index + 1
  })
  return [...items]
    .map(([id, ranks]) => ({ id, ...ranks, fused: fusedScore(k, ranks.vectorRank, ranks.lexicalRank) }))
    .sort(compareFused)
}

function compareFused<Id extends number | string>(a: RankedItem<Id>, b: RankedItem<Id>): number {
  if (a.fused !== b.fused) return b.fused - a.fused
  const bestA = bestRank(a)
  const bestB = bestRank(b)
  if (bestA !== bestB) return bestA - bestB
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}

function bestRank(item: { vectorRank: number | null; lexicalRank: number | null }): number {
  return Math.min(item.vectorRank ?? Number.POSITIVE_INFINITY, item.lexicalRank ?? Number.POSITIVE_INFINITY)
}
