import { describe, expect, it } from 'vitest'
import { buildCitations, citedNumbers } from '../../src/generation/citations.js'
import { costOf } from '../../src/generation/cost.js'
import { checkJsonOutput } from '../../src/generation/json-output.js'
import { decideRoute, ModelRoute, splitBucket } from '../../src/generation/routing.js'
import type { Passage } from '../../src/retrieval/types.js'

const split = (share: number) =>
  ModelRoute.parse({ strategy: 'split', foundationModel: 'base', fineTunedModel: 'ft', share })

describe('routing', () => {
  it('sends one subject to the same arm every time', () => {
    for (const subject of ['alice', 'bob', 'carol', 'dave']) {
      const arms = new Set(Array.from({ length: 20 }, () => decideRoute(split(0.5), 'copy', subject).model))
      expect(arms.size).toBe(1)
    }
  })

  it('sends the configured share of 1,000 subjects to the fine-tuned model, within tolerance', () => {
    for (const share of [0.1, 0.3, 0.5]) {
      let fineTuned = 0
      for (let i = 0; i < 1000; i++)
        if (decideRoute(split(share), 'copy', `user-${i}`).model === 'ft') fineTuned += 1
      // Binomial sd at n=1000 is at most ~16; 4 sd keeps this from flaking while catching a broken hash.
      expect(Math.abs(fineTuned - share * 1000)).toBeLessThan(64)
    }
  })

  it('splits tasks independently', () => {
    expect(splitBucket('a', 'same-user')).not.toBe(splitBucket('b', 'same-user'))
  })

  it('records the decision and its reason', () => {
    const bucket = splitBucket('copy', 'u')
    const decision = decideRoute(split(1), 'copy', 'u')
    expect(decision).toMatchObject({ model: 'ft', fallbackModel: 'base', strategy: 'split' })
    expect(decision.reason).toBe(`split: bucket ${bucket.toFixed(4)} < share 1, fine-tuned arm`)
    const foundation = decideRoute(split(0), 'copy', 'u')
    expect(foundation.model).toBe('base')
    expect(foundation.fallbackModel).toBeUndefined()
  })

  it('needs a fine-tuned model and a share where the strategy uses them', () => {
    expect(ModelRoute.safeParse({ strategy: 'fine_tuned', foundationModel: 'base' }).success).toBe(false)
    expect(
      ModelRoute.safeParse({ strategy: 'split', foundationModel: 'base', fineTunedModel: 'ft' }).success,
    ).toBe(false)
  })
})

describe('citations, cost and JSON output', () => {
  const passages = [1, 2].map(
    (n) =>
      ({
        documentId: n,
        sourceId: `s${n}`,
        title: '',
        headingPath: '',
        chunkIds: [n],
        kind: 'guideline',
      }) as Passage,
  )

  it('finds [n] and [n, m] markers', () => {
    expect(citedNumbers('a [1] b [2, 3] c [x] [1]')).toEqual([1, 2, 3])
  })

  it('marks cited passages and reports unknown markers as invalid', () => {
    const report = buildCitations(passages, 'One [2]. Made up [0] and [7].')
    expect(report.citations.map((c) => [c.n, c.cited])).toEqual([
      [1, false],
      [2, true],
    ])
    expect(report.invalidCitations).toEqual([0, 7])
  })

  it('prices tokens per million and leaves cost null without a price', () => {
    expect(
      costOf(
        { promptTokens: 1_000_000, completionTokens: 500_000 },
        { inputPerMillion: 0.15, outputPerMillion: 0.6 },
      ),
    ).toBeCloseTo(0.45, 10)
    expect(costOf({ promptTokens: 10, completionTokens: 10 }, undefined)).toBeNull()
  })

  it('validates JSON output against the schema with readable errors', () => {
    const schema = {
      type: 'object',
      properties: { subject: { type: 'string', maxLength: 5 } },
      required: ['subject'],
    }
    expect(checkJsonOutput('{"subject":"Hi"}', schema)).toEqual({ ok: true, value: { subject: 'Hi' } })
    expect(checkJsonOutput('```json\n{"subject":"Hi"}\n```', schema).ok).toBe(true)
    expect(checkJsonOutput('not json', schema)).toEqual({ ok: false, error: 'The reply is not valid JSON.' })
    const bad = checkJsonOutput('{"subject":"Too long"}', schema)
    expect(bad.ok).toBe(false)
    expect(!bad.ok && bad.error).toContain('subject')
  })
})
