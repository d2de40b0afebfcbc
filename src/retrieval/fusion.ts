/**
 * Fusion of the two arms by weighted z-scores. Each arm's scores (cosine similarity, BM25) become
 * z-scores over that arm's own candidates, so unrelated scales become comparable and a clear winner
 * in one arm keeps its margin (reciprocal rank fusion throws margins away: with a weak embedder it
 * scored below BM25 alone). An item an arm did not return gets that arm's lowest z-score; the fused
 * score is `(1 − w)·z_vector + w·z_lexical`, w the lexical weight.
 *
 * The search (src/retrieval/search.ts) fuses the two arms' rows with this function.
 */
export interface FusedItem<Id> {
  id: Id
  vectorRank: number | null
  lexicalRank: number | null
  fused: number
}

/** Scores of one arm, best first (similarity for the vector arm, BM25 for the lexical one). */
export interface ArmResult<Id> {
  id: Id
  score: number
}

/** z-scores by id; a single candidate (or all equal) has no spread and gets 0. */
export function zScores<Id>(arm: readonly ArmResult<Id>[]): Map<Id, number> {
  const n = arm.length
  const mean = arm.reduce((sum, item) => sum + item.score, 0) / Math.max(n, 1)
  const deviation = Math.sqrt(arm.reduce((sum, item) => sum + (item.score - mean) ** 2, 0) / Math.max(n, 1))
  return new Map(arm.map((item) => [item.id, deviation > 0 ? (item.score - mean) / deviation : 0]))
}

/**
 * Fuse two arms' results. Ties on the fused score go to the item with the better single rank, then
 * to the smaller id, so the order is total and repeatable.
 */
export function fuseArms<Id extends number | string>(
  vector: readonly ArmResult<Id>[],
  lexical: readonly ArmResult<Id>[],
  lexicalWeight: number,
): FusedItem<Id>[] {
  const vectorZ = zScores(vector)
  const lexicalZ = zScores(lexical)
  const floor = (z: Map<Id, number>) => (z.size > 0 ? [...z.values()].reduce((a, b) => Math.min(a, b)) : 0)
  const vectorFloor = floor(vectorZ)
  const lexicalFloor = floor(lexicalZ)
  const ranks = (arm: readonly ArmResult<Id>[]) => {
    const byId = new Map<Id, number>()
    arm.forEach((item, index) => {
      if (!byId.has(item.id)) byId.set(item.id, index + 1)
    })
    return byId
  }
  const vectorRanks = ranks(vector)
  const lexicalRanks = ranks(lexical)
  const ids = [...new Set([...vector.map((item) => item.id), ...lexical.map((item) => item.id)])]
  return ids
    .map((id) => ({
      id,
      vectorRank: vectorRanks.get(id) ?? null,
      lexicalRank: lexicalRanks.get(id) ?? null,
      fused:
        (1 - lexicalWeight) * (vectorZ.get(id) ?? vectorFloor) +
        lexicalWeight * (lexicalZ.get(id) ?? lexicalFloor),
    }))
    .sort(compareFused)
}

function compareFused<Id extends number | string>(a: FusedItem<Id>, b: FusedItem<Id>): number {
  if (a.fused !== b.fused) return b.fused - a.fused
  const bestA = bestRank(a)
  const bestB = bestRank(b)
  if (bestA !== bestB) return bestA - bestB
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}

function bestRank(item: { vectorRank: number | null; lexicalRank: number | null }): number {
  return Math.min(item.vectorRank ?? Number.POSITIVE_INFINITY, item.lexicalRank ?? Number.POSITIVE_INFINITY)
}
