import { READY_EXAMPLES } from '../datasets/validate-dataset.js'
import type { Interval } from '../evals/statistics.js'
import type { BreakEven } from './break-even.js'

/**
 * The thresholds the verdict applies (README, "Insights and the verdict", tabulates them). They come from
 * the decision framework the product is built on (DESIGN.md): prompting wins under ~10k requests a month,
 * while requirements change weekly, or below ~500 clean examples; fine-tuning pays on stable, high-volume
 * tasks, and only when every price involved is known.
 */
export const RULES = {
  /** Fewer calls in the window than this: nothing can be said. */
  minCalls: 100,
  /** Projected calls a month under this favour prompting. */
  lowVolumePerMonth: 10_000,
  /** Projected calls a month from which a stable task typically pays back in weeks (stated, not a gate). */
  highVolumePerMonth: 100_000,
  /** Requirement changes (a new systemPrompt or output format) per week at or above this: changing weekly. */
  changesPerWeek: 1,
  /** Clean (approved or corrected) examples a first fine-tune needs. */
  readyExamples: READY_EXAMPLES,
  /** A fine-tune must pay for its training within this many days at the observed volume. */
  paybackDays: 90,
  /** Evaluation: the candidate may trail the foundation arm's pass rate by at most this. */
  evalMargin: 0.05,
  /** Evaluation: decided results each arm needs before the comparison counts. */
  minEvalResults: 20,
  /** Reviews each arm needs before approval rates are compared. */
  minReviewed: 30,
  /** A live fine-tuned arm falling back more often than this (over at least minFallbackCalls calls) is failing. */
  maxFallbackRate: 0.2,
  minFallbackCalls: 50,
  /** A live fine-tuned model this close to its shutdown date should be rolled back. */
  shutdownDays: 30,
} as const

export type Rules = { -readonly [K in keyof typeof RULES]: number }

export type Decision =
  | 'not_enough_data'
  | 'keep_prompting'
  | 'collect_examples'
  | 'try_fine_tune'
  | 'promote'
  | 'roll_back'
  | 'never_breaks_even'

export interface Reason {
  code: string
  message: string
  numbers: Record<string, number | string | boolean | null>
}

export interface Verdict {
  decision: Decision
  summary: string
  /** The reasons that decided it first, then the checks that passed on the way. */
  reasons: Reason[]
}

export interface ApprovalFacts {
  reviewed: number
  approved: number
  rate: number | null
  interval: Interval | null
}

export interface VerdictFacts {
  windowDays: number
  calls: number
  projectedMonthly: number
  requirementChanges: number
  cleanExamples: number
  /** The fine-tuned model: serving (live, with its strategy), staged in a newer version, or none. */
  candidate: { model: string; state: 'live' | 'staged'; strategy: 'fine_tuned' | 'split' } | null
  /** The newest evaluation with an arm on the candidate and one on the foundation model (passAll rates). */
  evaluation: {
    runId: string
    candidate: { rate: number | null; decided: number }
    foundation: { rate: number | null; decided: number }
  } | null
  approval: { candidate: ApprovalFacts; foundation: ApprovalFacts }
  /** The candidate arm's calls and fallbacks in the window. */
  fallback: { calls: number; fellBack: number }
  candidateShutdownDays: number | null
  /** Days until the shutdown of the model a new fine-tune would start from. */
  baseShutdownDays: number | null
  money: BreakEven
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US')
const pct = (n: number | null) => (n === null ? 'n/a' : `${(n * 100).toFixed(1)}%`)
const usd = (n: number | null) =>
  n === null ? 'unknown' : `${n < 0 ? '-' : ''}$${Math.abs(n).toFixed(Math.abs(n) < 0.01 ? 6 : 2)}`

function verdict(decision: Decision, summary: string, reasons: Reason[]): Verdict {
  return { decision, summary, reasons }
}

/** The training cost matters only before a model is trained: a trained candidate's training is spent. */
function moneyBlockers(money: BreakEven, needTraining: boolean): string[] {
  return [
    ...money.blockedBy,
    ...(needTraining && money.trainingUnknownBecause !== null ? [money.trainingUnknownBecause] : []),
  ]
}

function moneyBlocked(blockers: string[]): Reason {
  return {
    code: 'unpriced',
    message: `No money verdict: ${blockers.join('; ')}. An unpriced model is never counted as free.`,
    numbers: { blockers: blockers.length },
  }
}

function savingReason(money: BreakEven, rules: Rules): Reason {
  const saves = (money.savingPerCallUsd ?? 0) > 0
  const hosting = (money.hostingPerCallUsd ?? 0) > 0 ? ` (${usd(money.hostingPerCallUsd)} of it hosting)` : ''
  const perCall = `${usd(money.baseCostPerCallUsd)} a call on the base route, ${usd(money.fineTunedCostPerCallUsd)} on the fine-tuned route${hosting}`
  const payback =
    money.paybackDays !== null
      ? ` Training (${usd(money.trainingCostUsd)}) pays back after ${fmt(money.paybackCalls!)} calls, about ${money.paybackDays} days at the observed volume (limit ${rules.paybackDays}).`
      : money.trainingCostUsd === null
        ? ` Training cost: unknown (${money.trainingUnknownBecause}).`
        : ''
  return {
    code: saves ? 'saving' : 'no_saving',
    message: saves
      ? `${perCall}: it saves ${usd(money.savingPerCallUsd)} a call, ${usd(money.monthlySavingUsd)} a month.${payback}`
      : `${perCall}: it saves nothing per call, so its training (${usd(money.trainingCostUsd)}) never pays back.`,
    numbers: {
      baseCostPerCallUsd: money.baseCostPerCallUsd,
      fineTunedCostPerCallUsd: money.fineTunedCostPerCallUsd,
      hostingPerCallUsd: money.hostingPerCallUsd,
      savingPerCallUsd: money.savingPerCallUsd,
      monthlySavingUsd: money.monthlySavingUsd,
      trainingCostUsd: money.trainingCostUsd,
      paybackCalls: money.paybackCalls,
      paybackDays: money.paybackDays,
      paybackLimitDays: rules.paybackDays,
    },
  }
}

function evaluationReason(facts: VerdictFacts, rules: Rules): Reason | undefined {
  const e = facts.evaluation
  if (!e || e.candidate.rate === null || e.foundation.rate === null) return undefined
  if (e.candidate.decided < rules.minEvalResults || e.foundation.decided < rules.minEvalResults)
    return undefined
  // Rounded so a difference of exactly the margin (0.85 − 0.9) is not lost to floating point.
  const delta = Math.round((e.candidate.rate - e.foundation.rate) * 1e9) / 1e9
  const loses = delta < -rules.evalMargin
  return {
    code: loses ? 'evaluation_lost' : 'evaluation_held',
    message: `Evaluation ${e.runId}: ${facts.candidate?.model} passed ${pct(e.candidate.rate)} of ${e.candidate.decided} results against ${pct(e.foundation.rate)} of ${e.foundation.decided} for the foundation model (difference ${(delta * 100).toFixed(1)} points; allowed ${(rules.evalMargin * 100).toFixed(1)}).`,
    numbers: {
      runId: e.runId,
      candidatePassRate: e.candidate.rate,
      foundationPassRate: e.foundation.rate,
      candidateResults: e.candidate.decided,
      foundationResults: e.foundation.decided,
      difference: Math.round(delta * 1e4) / 1e4,
      margin: rules.evalMargin,
    },
  }
}

/** Reasons a live fine-tuned arm should be rolled back; empty when it holds up. */
function rollBackReasons(facts: VerdictFacts, rules: Rules, evaluation: Reason | undefined): Reason[] {
  const reasons: Reason[] = []
  if (evaluation?.code === 'evaluation_lost') reasons.push(evaluation)
  const { candidate: c, foundation: f } = facts.approval
  if (
    c.reviewed >= rules.minReviewed &&
    f.reviewed >= rules.minReviewed &&
    c.interval !== null &&
    f.interval !== null &&
    c.interval.high < f.interval.low
  ) {
    reasons.push({
      code: 'approval_lower',
      message: `Reviewers approved ${pct(c.rate)} of ${c.reviewed} fine-tuned outputs (95% interval up to ${pct(c.interval.high)}) against ${pct(f.rate)} of ${f.reviewed} foundation outputs (from ${pct(f.interval.low)}): the intervals do not overlap.`,
      numbers: {
        candidateReviewed: c.reviewed,
        candidateApprovalRate: c.rate,
        candidateHigh: c.interval.high,
        foundationReviewed: f.reviewed,
        foundationApprovalRate: f.rate,
        foundationLow: f.interval.low,
      },
    })
  }
  const { calls, fellBack } = facts.fallback
  if (calls >= rules.minFallbackCalls && fellBack / calls > rules.maxFallbackRate) {
    reasons.push({
      code: 'fallbacks',
      message: `${fmt(fellBack)} of ${fmt(calls)} calls to the fine-tuned arm fell back to the foundation model (${pct(fellBack / calls)}; limit ${pct(rules.maxFallbackRate)}).`,
      numbers: { calls, fellBack, rate: fellBack / calls, limit: rules.maxFallbackRate },
    })
  }
  if (facts.candidateShutdownDays !== null && facts.candidateShutdownDays <= rules.shutdownDays) {
    reasons.push({
      code: 'shutdown',
      message: `${facts.candidate?.model} shuts down in ${facts.candidateShutdownDays} days (limit ${rules.shutdownDays}).`,
      numbers: { daysUntilShutdown: facts.candidateShutdownDays, limit: rules.shutdownDays },
    })
  }
  return reasons
}

/** With a fine-tuned model serving or staged: promote, roll back, or wait for evidence. */
function candidateVerdict(facts: VerdictFacts, rules: Rules): Verdict {
  const candidate = facts.candidate!
  const evaluation = evaluationReason(facts, rules)
  if (candidate.state === 'live') {
    const problems = rollBackReasons(facts, rules, evaluation)
    if (problems.length > 0)
      return verdict(
        'roll_back',
        `Roll back: ${candidate.model} is doing worse than the foundation route.`,
        problems,
      )
  } else if (evaluation?.code === 'evaluation_lost') {
    return verdict(
      'keep_prompting',
      `Keep prompting: the staged ${candidate.model} lost its evaluation; do not promote it.`,
      [evaluation],
    )
  }
  const blockers = moneyBlockers(facts.money, false)
  if (blockers.length > 0)
    return verdict('not_enough_data', 'Not enough data for a money verdict: some prices are unknown.', [
      moneyBlocked(blockers),
    ])
  const saving = savingReason(facts.money, rules)
  if ((facts.money.savingPerCallUsd ?? 0) <= 0)
    return verdict(
      'never_breaks_even',
      `Never breaks even: ${candidate.model} costs as much or more per call than the foundation route.`,
      [saving],
    )
  if (candidate.state === 'live' && candidate.strategy === 'fine_tuned')
    return verdict('promote', `Keep ${candidate.model} promoted: it serves the task and holds up.`, [
      ...(evaluation ? [evaluation] : []),
      saving,
    ])
  if (!evaluation)
    return verdict(
      'not_enough_data',
      `Not enough data to promote ${candidate.model}: evaluate it against the foundation model first.`,
      [
        {
          code: 'no_evaluation',
          message: `No finished evaluation has at least ${rules.minEvalResults} decided results for both ${candidate.model} and the foundation model; run one (POST /v1/eval-runs with an arm on each).`,
          numbers: {
            minResults: rules.minEvalResults,
            candidateResults: facts.evaluation?.candidate.decided ?? 0,
            foundationResults: facts.evaluation?.foundation.decided ?? 0,
          },
        },
      ],
    )
  return verdict(
    'promote',
    `Promote ${candidate.model}: it holds up in evaluation and costs less per call.`,
    [evaluation, saving],
  )
}

/**
 * The verdict, first matching rule wins. Pure: every number it uses is in `facts`, so the README's table
 * and the tests can predict it.
 */
export function decideVerdict(facts: VerdictFacts, rules: Rules = RULES): Verdict {
  const volume: Reason = {
    code: 'volume',
    message: `${fmt(facts.calls)} calls in the last ${facts.windowDays} days: about ${fmt(facts.projectedMonthly)} a month.`,
    numbers: {
      calls: facts.calls,
      windowDays: facts.windowDays,
      projectedMonthly: facts.projectedMonthly,
      lowVolumePerMonth: rules.lowVolumePerMonth,
      highVolumePerMonth: rules.highVolumePerMonth,
    },
  }
  if (facts.calls < rules.minCalls)
    return verdict('not_enough_data', `Not enough data: ${facts.calls} calls in the window.`, [
      {
        code: 'few_calls',
        message: `${facts.calls} calls in the last ${facts.windowDays} days; at least ${rules.minCalls} are needed to say anything.`,
        numbers: { calls: facts.calls, minCalls: rules.minCalls, windowDays: facts.windowDays },
      },
    ])
  if (facts.candidate) return candidateVerdict(facts, rules)

  const perWeek = (facts.requirementChanges * 7) / facts.windowDays
  const stability: Reason = {
    code: perWeek >= rules.changesPerWeek ? 'changing' : 'stable',
    message: `${facts.requirementChanges} requirement changes (new instructions or output format) in ${facts.windowDays} days: ${perWeek.toFixed(2)} a week (weekly from ${rules.changesPerWeek}).`,
    numbers: {
      requirementChanges: facts.requirementChanges,
      changesPerWeek: Math.round(perWeek * 100) / 100,
      limit: rules.changesPerWeek,
    },
  }
  const low = facts.projectedMonthly < rules.lowVolumePerMonth
  const changing = perWeek >= rules.changesPerWeek
  if (low || changing) {
    const reasons = [
      ...(low
        ? [
            {
              ...volume,
              code: 'low_volume',
              message: `${volume.message} Under ${fmt(rules.lowVolumePerMonth)} a month, prompting costs less than training and maintaining a model.`,
            },
          ]
        : []),
      ...(changing
        ? [{ ...stability, message: `${stability.message} Requirements this fluid favour prompting.` }]
        : []),
    ]
    return verdict('keep_prompting', 'Keep prompting.', reasons)
  }
  if (facts.cleanExamples < rules.readyExamples)
    return verdict(
      'collect_examples',
      `Collect examples: ${facts.cleanExamples} of the ${rules.readyExamples} clean examples a fine-tune needs.`,
      [
        {
          code: 'few_examples',
          message: `${fmt(facts.cleanExamples)} approved or corrected generations; a fine-tune needs about ${fmt(rules.readyExamples)} clean examples (${fmt(rules.readyExamples - facts.cleanExamples)} to go).`,
          numbers: { cleanExamples: facts.cleanExamples, target: rules.readyExamples },
        },
        volume,
        stability,
      ],
    )
  const blockers = moneyBlockers(facts.money, true)
  if (blockers.length > 0)
    return verdict('not_enough_data', 'Not enough data for a money verdict: some prices are unknown.', [
      moneyBlocked(blockers),
      volume,
      stability,
    ])
  const saving = savingReason(facts.money, rules)
  if ((facts.money.savingPerCallUsd ?? 0) <= 0)
    return verdict(
      'never_breaks_even',
      'Never breaks even: a fine-tuned model would not cost less per call.',
      [saving, volume],
    )
  const paybackDays = facts.money.paybackDays!
  if (facts.baseShutdownDays !== null && paybackDays > facts.baseShutdownDays)
    return verdict(
      'never_breaks_even',
      'Never breaks even: the base model shuts down before the training pays back.',
      [
        {
          code: 'shutdown_before_payback',
          message: `Training would pay back in about ${paybackDays} days, but the base model shuts down in ${facts.baseShutdownDays}.`,
          numbers: { paybackDays, daysUntilShutdown: facts.baseShutdownDays },
        },
        saving,
      ],
    )
  if (paybackDays > rules.paybackDays)
    return verdict('keep_prompting', `Keep prompting: training would take ${paybackDays} days to pay back.`, [
      saving,
      volume,
    ])
  return verdict('try_fine_tune', `Try fine-tuning: it pays back in about ${paybackDays} days.`, [
    saving,
    volume,
    stability,
    {
      code: 'enough_examples',
      message: `${fmt(facts.cleanExamples)} clean examples (target ${fmt(rules.readyExamples)}).`,
      numbers: { cleanExamples: facts.cleanExamples, target: rules.readyExamples },
    },
  ])
}
