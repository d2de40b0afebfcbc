import { describe, expect, it } from 'vitest'
import { Check } from '../../src/evals/checks.js'
import { type CheckSubject, runCheck } from '../../src/evals/run-checks.js'
import { cosine, rougeL } from '../../src/evals/similarity.js'
import { meanInterval, quantile, wilson } from '../../src/evals/statistics.js'

const subject = (over: Partial<CheckSubject> = {}): CheckSubject => ({
  output: 'Acme Trailblazer tent: waterproof, sleeps two [1].',
  reference: 'Acme Trailblazer tent: waterproof, sleeps two [1].',
  invalidCitations: [],
  citedPassages: 1,
  costUsd: 0.001,
  latencyMs: 120,
  ...over,
})

/** Each check type with an output it passes and one it fails. */
const CASES: [Record<string, unknown>, Partial<CheckSubject>, Partial<CheckSubject>][] = [
  [{ type: 'contains', value: 'Trailblazer' }, {}, { output: 'A tent.' }],
  [{ type: 'not-contains', value: 'cheap' }, {}, { output: 'A cheap tent.' }],
  [{ type: 'icontains', value: 'ACME' }, {}, { output: 'A tent.' }],
  [{ type: 'regex', pattern: '^acme\\b', flags: 'i' }, {}, { output: 'The Acme tent' }],
  [{ type: 'equals', value: 'Yes.' }, { output: ' Yes.\n' }, { output: 'Yes!' }],
  [{ type: 'starts-with', value: 'Acme' }, {}, { output: 'Buy Acme' }],
  [{ type: 'min-length', value: 5, unit: 'words' }, {}, { output: 'Two words' }],
  [{ type: 'max-length', value: 10, unit: 'chars' }, { output: 'Short.' }, {}],
  [{ type: 'is-json' }, { output: '{"a": 1}' }, { output: '{a: 1}' }],
  [
    {
      type: 'json-schema',
      schema: { type: 'object', properties: { a: { type: 'number' } }, required: ['a'] },
    },
    { output: '```json\n{"a": 1}\n```' },
    { output: '{"a": "one"}' },
  ],
  [{ type: 'banned-phrases', phrases: ['world-class', 'Cheap'] }, {}, { output: 'A cheap tent' }],
  [{ type: 'citations-valid' }, {}, { invalidCitations: [7] }],
  [{ type: 'min-citations', value: 1 }, {}, { citedPassages: 0 }],
  [{ type: 'max-cost', usd: 0.01 }, {}, { costUsd: 0.02 }],
  [{ type: 'max-latency', ms: 1000 }, {}, { latencyMs: 1500 }],
  [{ type: 'similarity', metric: 'rouge-l', min: 0.9 }, {}, { output: 'A different sentence entirely.' }],
  [{ type: 'similarity', metric: 'cosine', min: 0.9 }, { cosine: 0.95 }, { cosine: 0.5 }],
  [
    { type: 'rubric', rubric: 'On brand', min: 4 },
    { rubricScores: { rubric: 4 } },
    { rubricScores: { rubric: 3 } },
  ],
]

describe('evaluation checks', () => {
  it('covers every check type the schema accepts', () => {
    const types = new Set(CASES.map(([check]) => check.type))
    const options = (Check as unknown as { options: { shape: { type: { value: string } } }[] }).options
    expect([...types].sort()).toEqual(options.map((o) => o.shape.type.value).sort())
  })

  for (const [definition, passing, failing] of CASES) {
    it(`${String(definition.type)}: passes and fails`, () => {
      const check = Check.parse(definition)
      expect(runCheck(check, subject(passing)).pass).toBe(true)
      expect(runCheck(check, subject(failing)).pass).toBe(false)
    })
  }

  it('leaves undecidable checks undecided instead of failing them', () => {
    expect(runCheck(Check.parse({ type: 'max-cost', usd: 1 }), subject({ costUsd: null })).pass).toBeNull()
    const rouge = Check.parse({ type: 'similarity', metric: 'rouge-l', min: 0.5 })
    expect(runCheck(rouge, subject({ reference: null })).pass).toBeNull()
    expect(
      runCheck(Check.parse({ type: 'similarity', metric: 'cosine', min: 0.5 }), subject()).pass,
    ).toBeNull()
    expect(runCheck(Check.parse({ type: 'rubric', rubric: 'x' }), subject()).pass).toBeNull()
  })

  it('leaves a regex that backtracks without end undecided instead of freezing the process', () => {
    const check = Check.parse({ type: 'regex', pattern: '^(a+)+$' })
    const started = performance.now()
    // Unbounded, this backtracks 2^40 times: hours.
    const result = runCheck(check, subject({ output: `${'a'.repeat(40)}!` }))
    expect(result.pass).toBeNull()
    expect(result.detail).toMatch(/longer than 100 ms/)
    // The bound holds with room for a loaded machine; the same pattern still decides normal outputs.
    expect(performance.now() - started).toBeLessThan(5_000)
    expect(runCheck(check, subject({ output: 'aaaa' })).pass).toBe(true)
    expect(runCheck(check, subject({ output: 'aab' })).pass).toBe(false)
  })

  it('reports under the check’s own name when it has one', () => {
    const result = runCheck(Check.parse({ type: 'contains', value: 'x', name: 'mentions-x' }), subject())
    expect(result).toMatchObject({ name: 'mentions-x', type: 'contains', pass: false })
  })
})

describe('evaluation statistics', () => {
  it('computes Wilson 95% intervals that match published values', () => {
    const round = (i: { low: number; high: number } | null) => i && [i.low.toFixed(4), i.high.toFixed(4)]
    expect(round(wilson(8, 10))).toEqual(['0.4902', '0.9433'])
    expect(round(wilson(0, 10))).toEqual(['0.0000', '0.2775'])
    expect(round(wilson(10, 10))).toEqual(['0.7225', '1.0000'])
    expect(round(wilson(45, 50))).toEqual(['0.7864', '0.9565'])
    expect(wilson(0, 0)).toBeNull()
  })

  it('computes ROUGE-L F1, cosine, quantiles and a mean interval', () => {
    // LCS "the cat on the mat" = 5 of 6 words each way.
    expect(rougeL('the cat sat on the mat', 'the cat is on the mat')).toBeCloseTo(5 / 6, 10)
    expect(rougeL('', 'anything')).toBe(0)
    expect(rougeL('Same Words', 'same, words!')).toBe(1)
    expect(cosine([1, 0], [0, 1])).toBe(0)
    expect(cosine([1, 2], [2, 4])).toBeCloseTo(1, 12)
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5)
    expect(quantile([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 0.95)).toBeCloseTo(95.5, 10)
    const { mean, interval } = meanInterval([2, 4, 4, 4, 5, 5, 7, 9])
    expect(mean).toBe(5)
    // s = 2.138, s/√8 = 0.756, × 1.96 = 1.4815
    expect(interval!.high - 5).toBeCloseTo(1.4815, 3)
  })
})
