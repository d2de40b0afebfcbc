import { describe, expect, it } from 'vitest'
import { fusedScore, fuseRankings } from '../../src/retrieval/fusion.js'

describe('reciprocal rank fusion', () => {
  it('scores an item by the sum of 1 / (k + rank) over the arms that returned it', () => {
    const fused = fuseRankings([10, 20, 30], [30, 40], 60)
    const byId = new Map(fused.map((item) => [item.id, item]))
    expect(byId.get(10)!.fused).toBe(1 / 61)
    expect(byId.get(20)!.fused).toBe(1 / 62)
    expect(byId.get(30)!.fused).toBe(1 / 63 + 1 / 61)
    expect(byId.get(40)!.fused).toBe(1 / 62)
    expect(byId.get(30)).toMatchObject({ vectorRank: 3, lexicalRank: 1 })
    expect(byId.get(40)).toMatchObject({ vectorRank: null, lexicalRank: 2 })
  })

  it('ranks an item found by both arms above items found by one, and equal scores by id', () => {
    expect(fuseRankings([1, 2, 3], [3, 4, 5], 60).map((item) => item.id)).toEqual([3, 1, 2, 4, 5])
  })

  it('breaks equal fused scores by the better single rank, then by the smaller id', () => {
    // 2 and 9 both score 1/62; 5 and 7 score 1/61 + 0 each, tie on rank 1, so the id decides.
    expect(fuseRankings([7, 2], [5, 9], 60).map((item) => item.id)).toEqual([5, 7, 2, 9])
  })

  it('lets a smaller k reward top ranks more', () => {
    const gap = (k: number) => fusedScore(k, 1, null) - fusedScore(k, 10, null)
    expect(gap(1)).toBeGreaterThan(gap(60))
  })

  it('counts an id repeated within one arm only at its first rank', () => {
    const [item] = fuseRankings([4, 4], [], 60)
    expect(item).toMatchObject({ id: 4, vectorRank: 1, fused: 1 / 61 })
  })

  it('returns nothing when neither arm found anything', () => {
    expect(fuseRankings([], [], 60)).toEqual([])
  })
})
