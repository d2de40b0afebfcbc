import { describe, expect, it } from 'vitest'
import type { Queryable } from '../../src/db/transaction.js'
import { fuseArms, zScores } from '../../src/retrieval/fusion.js'
import { runSearch } from '../../src/retrieval/search.js'

const arm = (...pairs: [number, number][]) => pairs.map(([id, score]) => ({ id, score }))

describe('weighted z-score fusion', () => {
  it('turns one arm into z-scores over its own candidates, with no spread giving 0', () => {
    const z = zScores(arm([1, 3], [2, 1], [3, 2]))
    // mean 2, population deviation sqrt(2/3)
    expect(z.get(1)).toBeCloseTo(1 / Math.sqrt(2 / 3), 12)
    expect(z.get(2)).toBeCloseTo(-1 / Math.sqrt(2 / 3), 12)
    expect(z.get(3)).toBe(0)
    expect(zScores(arm([9, 0.5])).get(9)).toBe(0)
  })

  it('sums the weighted z-scores, giving an arm that missed an item its lowest z-score', () => {
    const vector = arm([10, 0.9], [20, 0.7], [30, 0.5])
    const lexical = arm([30, 12], [40, 4])
    const byId = new Map(fuseArms(vector, lexical, 0.8).map((item) => [item.id, item]))
    const s = Math.sqrt(((0.9 - 0.7) ** 2 + (0.5 - 0.7) ** 2) / 3)
    const zv = (x: number) => (x - 0.7) / s
    expect(byId.get(30)!.fused).toBeCloseTo(0.2 * zv(0.5) + 0.8 * 1, 12)
    expect(byId.get(40)!.fused).toBeCloseTo(0.2 * zv(0.5) + 0.8 * -1, 12)
    expect(byId.get(10)!.fused).toBeCloseTo(0.2 * zv(0.9) + 0.8 * -1, 12)
    expect(byId.get(30)).toMatchObject({ vectorRank: 3, lexicalRank: 1 })
    expect(byId.get(40)).toMatchObject({ vectorRank: null, lexicalRank: 2 })
  })

  it('follows one arm alone at weight 0 or 1, and the other arm is empty', () => {
    const vector = arm([1, 0.9], [2, 0.8], [3, 0.1])
    const lexical = arm([3, 9], [2, 5], [1, 1])
    expect(fuseArms(vector, lexical, 1).map((item) => item.id)).toEqual([3, 2, 1])
    expect(fuseArms(vector, lexical, 0).map((item) => item.id)).toEqual([1, 2, 3])
    expect(fuseArms([], lexical, 0.8).map((item) => item.id)).toEqual([3, 2, 1])
  })

  it('keeps the margin of a clear winner that rank fusion would throw away', () => {
    // BM25 is sure of 1 (far ahead); the weak vector arm mildly prefers 2. Ranks alone would tie them.
    const lexical = arm([1, 30], [2, 5], [3, 4], [4, 3])
    const vector = arm([2, 0.52], [1, 0.5], [3, 0.49], [4, 0.48])
    expect(fuseArms(vector, lexical, 0.5)[0]!.id).toBe(1)
  })

  it('breaks equal fused scores by the better single rank, then by the smaller id', () => {
    expect(fuseArms(arm([7, 1], [2, 1]), arm([5, 1], [9, 1]), 0.5).map((item) => item.id)).toEqual([
      5, 7, 2, 9,
    ])
  })

  it('returns nothing when neither arm found anything', () => {
    expect(fuseArms([], [], 0.8)).toEqual([])
  })
})

describe('runSearch', () => {
  it("ranks each arm itself, whatever order the statements' rows came in", async () => {
    // relaxed_order may hand back the vector arm's rows slightly out of order; a stub database does so here.
    const row = (id: number) => ({
      id,
      documentId: 1,
      ordinal: id,
      headingPath: '',
      text: `t${id}`,
      tokenCount: 1,
    })
    const vectorRows = [
      { ...row(3), distance: 0.3 },
      { ...row(1), distance: 0.1 },
      { ...row(2), distance: 0.2 },
    ]
    const lexicalRows = [
      { ...row(5), score: 1 },
      { ...row(4), score: 3 },
    ]
    const db = {
      query: async (text: string) => ({ rows: text.includes('bm25_search') ? lexicalRows : vectorRows }),
    } as unknown as Queryable
    const target = {
      collectionId: 1,
      name: 'c',
      embeddingModel: 'm',
      embeddingDimensions: 3,
      textSearchConfig: 'english',
      bm25: { k1: 0.9, b: 0.4 },
      lexicalWeight: 0.5,
    }
    const { rows } = await runSearch(db, target, {
      query: 'q',
      syntax: 'words',
      relaxWhenEmpty: true,
      bm25: target.bm25,
      lexicalWeight: 0.5,
      queryVector: [1, 0, 0],
      candidates: 3,
      lexicalMaxScored: null,
      limit: 10,
      efSearch: 40,
      maxScanTuples: 1000,
      iterativeScan: 'relaxed_order',
    })
    const ranks = new Map(rows.map((r) => [r.id, [r.vectorRank, r.lexicalRank]]))
    expect(ranks.get(1)).toEqual([1, null])
    expect(ranks.get(2)).toEqual([2, null])
    expect(ranks.get(3)).toEqual([3, null])
    expect(ranks.get(4)).toEqual([null, 1])
    expect(ranks.get(5)).toEqual([null, 2])
  })
})
