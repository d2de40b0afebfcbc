import { describe, expect, it } from 'vitest'
import { type BreakEvenInput, breakEven } from '../../src/insights/break-even.js'
import { decideVerdict, type VerdictFacts } from '../../src/insights/verdict.js'

/** The rules' edges that the seeded tests (test/learn/insights.test.ts) do not reach. */

const moneyInput: BreakEvenInput = {
  projectedMonthly: 30_000,
  callsPerDay: 1000,
  base: { model: 'gpt-4o', inputPer1M: 2.5, outputPer1M: 10, promptTokens: 2000, completionTokens: 200 },
  fineTuned: {
    model: 'gpt-4o-mini',
    inputPer1M: 0.3,
    outputPer1M: 1.2,
    hostingPerHour: null,
    promptTokens: 2000,
    completionTokens: 200,
  },
  training: { costUsd: 30, source: 'dataset' },
}

function facts(overrides: Partial<VerdictFacts> = {}, money: Partial<BreakEvenInput> = {}): VerdictFacts {
  const approval = { reviewed: 0, approved: 0, rate: null, interval: null }
  return {
    windowDays: 30,
    calls: 30_000,
    projectedMonthly: 30_000,
    requirementChanges: 0,
    cleanExamples: 600,
    candidate: null,
    evaluation: null,
    approval: { candidate: approval, foundation: approval },
    fallback: { calls: 0, fellBack: 0 },
    candidateShutdownDays: null,
    baseShutdownDays: null,
    money: breakEven({ ...moneyInput, ...money }),
    ...overrides,
  }
}

const evaluation = (candidate: number, foundation: number) => ({
  runId: 'r1',
  candidate: { rate: candidate, decided: 20 },
  foundation: { rate: foundation, decided: 20 },
})

describe('the verdict rules', () => {
  it('keeps prompting when training would take longer than 90 days to pay back', () => {
    // $0.00616 saved a call at 30 calls a day: $30 of training takes 4,871 calls, 162.4 days.
    const v = decideVerdict(facts({}, { callsPerDay: 30 }))
    expect(v.decision).toBe('keep_prompting')
    expect(v.reasons[0]!.numbers).toMatchObject({
      paybackCalls: 4871,
      paybackDays: 162.4,
      paybackLimitDays: 90,
    })
  })

  it('never breaks even when the base model shuts down before the training pays back', () => {
    const v = decideVerdict(facts({ baseShutdownDays: 3 }))
    expect(v.decision).toBe('never_breaks_even')
    expect(v.reasons[0]).toMatchObject({
      code: 'shutdown_before_payback',
      numbers: { paybackDays: 4.9, daysUntilShutdown: 3 },
    })
  })

  it('needs a known training cost before advising a first fine-tune, and says why it is unknown', () => {
    const v = decideVerdict(
      facts(
        {},
        { training: { costUsd: null, source: 'none', unknownBecause: 'gpt-4o-mini has no training price' } },
      ),
    )
    expect(v.decision).toBe('not_enough_data')
    expect(v.reasons[0]!.message).toContain('gpt-4o-mini has no training price')
  })

  it('keeps prompting when the staged model lost its evaluation by more than the margin', () => {
    const v = decideVerdict(
      facts({
        candidate: { model: 'ft:x', state: 'staged', strategy: 'split' },
        evaluation: evaluation(0.8, 0.9),
      }),
    )
    expect(v.decision).toBe('keep_prompting')
    expect(v.reasons[0]).toMatchObject({ code: 'evaluation_lost', numbers: { difference: -0.1 } })
  })

  it('asks for an evaluation before promoting a staged model, and does not count a small one', () => {
    const small = { runId: 'r', candidate: { rate: 1, decided: 19 }, foundation: { rate: 1, decided: 20 } }
    for (const e of [null, small]) {
      const v = decideVerdict(
        facts({ candidate: { model: 'ft:x', state: 'staged', strategy: 'split' }, evaluation: e }),
      )
      expect(v.decision).toBe('not_enough_data')
      expect(v.reasons[0]!.code).toBe('no_evaluation')
    }
  })

  it('promotes a staged model even when its training cost is unknown (it is spent)', () => {
    const v = decideVerdict(
      facts(
        {
          candidate: { model: 'ft:x', state: 'staged', strategy: 'split' },
          evaluation: evaluation(0.9, 0.9),
        },
        { training: { costUsd: null, source: 'none' } },
      ),
    )
    expect(v.decision).toBe('promote')
  })

  it('rolls back a live model that lost its evaluation or shuts down within 30 days', () => {
    const live = { model: 'ft:x', state: 'live' as const, strategy: 'fine_tuned' as const }
    expect(decideVerdict(facts({ candidate: live, evaluation: evaluation(0.7, 0.9) })).decision).toBe(
      'roll_back',
    )
    const soon = decideVerdict(facts({ candidate: live, candidateShutdownDays: 30 }))
    expect(soon.decision).toBe('roll_back')
    expect(soon.reasons[0]).toMatchObject({ code: 'shutdown', numbers: { daysUntilShutdown: 30, limit: 30 } })
    // 31 days out, holding up in evaluation and cheaper: keep it.
    const kept = decideVerdict(
      facts({ candidate: live, candidateShutdownDays: 31, evaluation: evaluation(0.9, 0.9) }),
    )
    expect(kept.decision).toBe('promote')
  })

  it('does not roll back on fallbacks below 50 calls or at exactly 20%', () => {
    const live = { model: 'ft:x', state: 'live' as const, strategy: 'fine_tuned' as const }
    expect(decideVerdict(facts({ candidate: live, fallback: { calls: 49, fellBack: 49 } })).decision).toBe(
      'promote',
    )
    expect(decideVerdict(facts({ candidate: live, fallback: { calls: 100, fellBack: 20 } })).decision).toBe(
      'promote',
    )
    expect(decideVerdict(facts({ candidate: live, fallback: { calls: 100, fellBack: 21 } })).decision).toBe(
      'roll_back',
    )
  })

  it('counts hourly hosting into the fine-tuned route and blocks on an unpriced one', () => {
    const hosted = breakEven({ ...moneyInput, fineTuned: { ...moneyInput.fineTuned, hostingPerHour: 1 } })
    // $1 × 730 hours ÷ 30,000 calls = $0.02433333 a call.
    expect(hosted.hostingPerCallUsd).toBeCloseTo(0.02433333, 8)
    expect(hosted.savingPerCallUsd).toBeCloseTo(0.007 - 0.00084 - 0.02433333, 8)
    const unpriced = breakEven({ ...moneyInput, fineTuned: { ...moneyInput.fineTuned, outputPer1M: null } })
    expect(unpriced).toMatchObject({ priced: false, savingPerCallUsd: null, fineTunedCostPerCallUsd: null })
    expect(unpriced.blockedBy[0]).toContain('gpt-4o-mini has no output price')
  })
})
