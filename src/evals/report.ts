import type { EvalResultRow, ReviewerVerdictRow } from '../db/eval-runs.js'
import type { EvalRunParams, ResolvedArm } from './eval-run-request.js'
import type { CheckResult } from './run-checks.js'
import { type Interval, meanInterval, quantile, wilson } from './statistics.js'

export interface Rate {
  passed: number
  /** Results where the check could be decided (a check without a reference, price or judge is not). */
  decided: number
  rate: number | null
  /** 95% Wilson score interval. */
  interval: Interval | null
}

export interface ArmReport extends ResolvedArm {
  results: number
  failed: number
  checks: Record<string, Rate>
  /** Results that passed every decided check. */
  passAll: Rate
  judge: { mean: number | null; interval: Interval | null; scored: number; unstableCases: number[] } | null
  /** Against the first arm, by the judge (order randomised, ties half a win); null for the first arm or without a judge. */
  pairwise: {
    against: string
    compared: number
    wins: number
    winRate: number | null
    interval: Interval | null
  } | null
  latencyMs: { p50: number | null; p95: number | null }
  tokens: { prompt: number; completion: number; meanPrompt: number | null; meanCompletion: number | null }
  cost: {
    /** Model calls plus judge calls; null when any result's model has no price (unknown is not free). */
    totalUsd: number | null
    perCaseUsd: number | null
    pricedResults: number
    unpricedResults: number
  }
  /** Results whose output cites a passage that was never supplied. */
  invalidCitations: number
  /** With a judge: how often its rubric verdict matches reviewers' on outputs they reviewed; null without a judge. */
  reviewerAgreement: ReviewerAgreement | null
}

/**
 * The judge against reviewers, over results whose exact output reviewers saw in served generations of the
 * task. The judge approves a result when every rubric check it decided passed; reviewers approve it when
 * more of those generations were approved than rejected or corrected (a tie is left out).
 */
export interface ReviewerAgreement {
  compared: number
  agreed: number
  rate: number | null
  interval: Interval | null
  /** The judge passed what reviewers rejected or corrected. */
  judgeLenient: number
  /** The judge failed what reviewers approved. */
  judgeStrict: number
}

export interface CaseDifference {
  ordinal: number
  /** Per arm: share of repetitions that passed every decided check (null: nothing decided). */
  passShare: (number | null)[]
  failedChecks: string[][]
}

export interface EvalReport {
  arms: ArmReport[]
  /** Every arm together; null without a judge. */
  reviewerAgreement: ReviewerAgreement | null
  /** Cases where the arms' pass shares differ. */
  differences: CaseDifference[]
}

export interface BaselineDiff {
  runId: string
  /** Per arm name found in both runs: the change of each check's pass rate (this − baseline). */
  arms: {
    name: string
    checks: Record<string, { rate: number | null; baseline: number | null; delta: number | null }>
  }[]
}

function rate(passed: number, decided: number): Rate {
  return { passed, decided, rate: decided === 0 ? null : passed / decided, interval: wilson(passed, decided) }
}

const checksOf = (r: EvalResultRow) => r.checks as CheckResult[]
const passedAll = (r: EvalResultRow) => {
  const decided = checksOf(r).filter((c) => c.pass !== null)
  return decided.length === 0 ? null : decided.every((c) => c.pass === true)
}

/** Scores of one rubric across a case's repetitions that differ by 2 or more, or pass and fail both. */
function unstable(scores: number[]): boolean {
  return scores.length > 1 && Math.max(...scores) - Math.min(...scores) >= 2
}

/** The rubric verdicts of a result (its judge field also holds the pairwise verdict). */
function rubricVerdicts(r: EvalResultRow): ({ score: number } | null)[] {
  return Object.entries((r.judge ?? {}) as Record<string, { score: number } | null>)
    .filter(([name]) => name !== 'pairwise')
    .map(([, v]) => v)
}

function pairwiseOf(results: EvalResultRow[], against: string): ArmReport['pairwise'] {
  const scores = results.flatMap((r) => {
    const p = (r.judge as { pairwise?: { score: number | null } } | null)?.pairwise
    return p && p.score !== null ? [p.score] : []
  })
  const wins = scores.reduce((s, v) => s + v, 0)
  return {
    against,
    compared: scores.length,
    wins,
    winRate: scores.length === 0 ? null : wins / scores.length,
    interval: wilson(wins, scores.length),
  }
}

/** Reviewers' verdict on each result's output, keyed case:arm:repetition (approved: true). */
export type ReviewerVerdicts = Map<string, boolean>

export function reviewerVerdicts(rows: ReviewerVerdictRow[]): ReviewerVerdicts {
  return new Map(
    rows
      .filter((r) => r.approved !== r.disapproved)
      .map((r) => [`${r.caseOrdinal}:${r.arm}:${r.repetition}`, r.approved > r.disapproved]),
  )
}

/** The judge's verdict on a result: every decided rubric check passed (undefined: it decided none). */
function judgeApproves(r: EvalResultRow): boolean | undefined {
  const rubric = checksOf(r).filter((c) => c.type === 'rubric' && c.pass !== null)
  return rubric.length === 0 ? undefined : rubric.every((c) => c.pass === true)
}

function agreement(results: EvalResultRow[], reviewers: ReviewerVerdicts): ReviewerAgreement {
  let agreed = 0
  let judgeLenient = 0
  let judgeStrict = 0
  for (const r of results) {
    const reviewer = reviewers.get(`${r.caseOrdinal}:${r.arm}:${r.repetition}`)
    const judge = r.status === 'succeeded' ? judgeApproves(r) : undefined
    if (reviewer === undefined || judge === undefined) continue
    if (judge === reviewer) agreed++
    else if (judge) judgeLenient++
    else judgeStrict++
  }
  const compared = agreed + judgeLenient + judgeStrict
  return {
    compared,
    agreed,
    rate: compared === 0 ? null : agreed / compared,
    interval: wilson(agreed, compared),
    judgeLenient,
    judgeStrict,
  }
}

function armReport(
  arm: ResolvedArm,
  results: EvalResultRow[],
  judged: boolean,
  reviewers: ReviewerVerdicts,
  against?: string,
): ArmReport {
  const ok = results.filter((r) => r.status === 'succeeded')
  const names = [...new Set(ok.flatMap((r) => checksOf(r).map((c) => c.name)))]
  const checks = Object.fromEntries(
    names.map((name) => {
      const decided = ok.flatMap((r) => checksOf(r).filter((c) => c.name === name && c.pass !== null))
      return [name, rate(decided.filter((c) => c.pass).length, decided.length)]
    }),
  )
  const all = ok.map(passedAll).filter((p) => p !== null)
  const scores = ok.flatMap((r) =>
    Object.values((r.judge ?? {}) as Record<string, { score: number } | null>).flatMap((v) =>
      v ? [v.score] : [],
    ),
  )
  const byCase = new Map<number, number[]>()
  for (const r of ok)
    for (const v of rubricVerdicts(r))
      if (v) byCase.set(r.caseOrdinal, [...(byCase.get(r.caseOrdinal) ?? []), v.score])
  const latencies = ok.map((r) => r.latencyMs ?? 0)
  const prompt = ok.reduce((s, r) => s + (r.promptTokens ?? 0), 0)
  const completion = ok.reduce((s, r) => s + (r.completionTokens ?? 0), 0)
  const priced = ok.filter((r) => r.costUsd !== null)
  const unpriced = ok.length - priced.length
  const total = priced.reduce((s, r) => s + r.costUsd! + (r.judgeCostUsd ?? 0), 0)
  const cases = new Set(ok.map((r) => r.caseOrdinal)).size
  return {
    ...arm,
    results: results.length,
    failed: results.length - ok.length,
    checks,
    passAll: rate(all.filter(Boolean).length, all.length),
    judge: judged
      ? {
          ...meanInterval(scores),
          scored: scores.length,
          unstableCases: [...byCase].filter(([, s]) => unstable(s)).map(([ordinal]) => ordinal),
        }
      : null,
    pairwise: judged && against !== undefined ? pairwiseOf(ok, against) : null,
    latencyMs: { p50: quantile(latencies, 0.5), p95: quantile(latencies, 0.95) },
    tokens: {
      prompt,
      completion,
      meanPrompt: ok.length ? prompt / ok.length : null,
      meanCompletion: ok.length ? completion / ok.length : null,
    },
    cost: {
      totalUsd: unpriced > 0 || ok.length === 0 ? null : Math.round(total * 1e8) / 1e8,
      perCaseUsd: unpriced > 0 || cases === 0 ? null : Math.round((total / cases) * 1e8) / 1e8,
      pricedResults: priced.length,
      unpricedResults: unpriced,
    },
    invalidCitations: ok.filter((r) => r.invalidCitations.length > 0).length,
    reviewerAgreement: judged ? agreement(results, reviewers) : null,
  }
}

/** The side-by-side report of a run's stored results (partial while it runs). */
export function buildReport(
  params: EvalRunParams,
  results: EvalResultRow[],
  reviewers: ReviewerVerdicts = new Map(),
): EvalReport {
  const judged = params.judge !== null
  const arms = params.arms.map((arm, index) =>
    armReport(
      arm,
      results.filter((r) => r.arm === index),
      judged,
      reviewers,
      index > 0 ? params.arms[0]!.name : undefined,
    ),
  )
  const ordinals = [...new Set(results.map((r) => r.caseOrdinal))].sort((a, b) => a - b)
  const differences: CaseDifference[] = []
  for (const ordinal of ordinals) {
    const perArm = params.arms.map((_, index) =>
      results.filter((r) => r.caseOrdinal === ordinal && r.arm === index && r.status === 'succeeded'),
    )
    const passShare = perArm.map((rs) => {
      const decided = rs.map(passedAll).filter((p) => p !== null)
      return decided.length === 0 ? null : decided.filter(Boolean).length / decided.length
    })
    if (new Set(passShare).size > 1)
      differences.push({
        ordinal,
        passShare,
        failedChecks: perArm.map((rs) => [
          ...new Set(
            rs.flatMap((r) =>
              checksOf(r)
                .filter((c) => c.pass === false)
                .map((c) => c.name),
            ),
          ),
        ]),
      })
  }
  return { arms, reviewerAgreement: judged ? agreement(results, reviewers) : null, differences }
}

export function diffFromBaseline(
  report: EvalReport,
  baseline: EvalReport,
  baselineRunId: string,
): BaselineDiff {
  return {
    runId: baselineRunId,
    arms: report.arms.flatMap((arm) => {
      const before = baseline.arms.find((b) => b.name === arm.name)
      if (!before) return []
      const names = [...new Set([...Object.keys(arm.checks), ...Object.keys(before.checks), 'passAll'])]
      const value = (a: ArmReport, name: string) =>
        (name === 'passAll' ? a.passAll : a.checks[name])?.rate ?? null
      return [
        {
          name: arm.name,
          checks: Object.fromEntries(
            names.map((name) => {
              const now = value(arm, name)
              const then = value(before, name)
              return [
                name,
                { rate: now, baseline: then, delta: now === null || then === null ? null : now - then },
              ]
            }),
          ),
        },
      ]
    }),
  }
}
