import type { EvalArm } from '../evals/eval-run-request.js'
import type { EvalRunView } from '../evals/get-eval-run.js'
import type { ArmReport, Rate } from '../evals/report.js'
import { UsageError } from './run-command.js'

/** `name=prompted,model=gpt-4o-mini,variant=fine_tuned,retrieval=off,version=2` → an arm request. */
export function parseArm(spec: string): Record<string, unknown> {
  const arm: Record<string, unknown> = {}
  for (const part of spec.split(',')) {
    const [key, ...rest] = part.split('=')
    const value = rest.join('=').trim()
    if (!key || value === '') throw new UsageError(`--arm "${spec}": each part is key=value`)
    const field = {
      name: 'name',
      model: 'model',
      variant: 'promptVariant',
      retrieval: 'retrieval',
      version: 'taskVersion',
    }[key.trim()] as keyof EvalArm | undefined
    if (!field)
      throw new UsageError(`--arm "${spec}": unknown key ${key} (name, model, variant, retrieval, version)`)
    arm[field] = field === 'taskVersion' ? Number(value) : value
  }
  return arm
}

export interface Gate {
  text: string
  arm: string
  check: string
  op: '>=' | '>' | '<=' | '<'
  value: number
}

/** `ARM:check>=0.9`: the arm's pass rate of the check (or `passAll`) against a threshold. */
export function parseGate(text: string): Gate {
  const match =
    /^([A-Za-z0-9][A-Za-z0-9_.-]*):([a-z0-9][a-z0-9_.-]*|passAll)\s*(>=|<=|>|<)\s*([0-9]*\.?[0-9]+)$/.exec(
      text.trim(),
    )
  if (!match) throw new UsageError(`--gate "${text}": write ARM:CHECK>=RATE, e.g. tuned:icontains>=0.9`)
  return { text, arm: match[1]!, check: match[2]!, op: match[3] as Gate['op'], value: Number(match[4]) }
}

/** The gates that fail, each with why; a check with no decided result fails its gate. */
export function failedGates(report: EvalRunView['report'], gates: Gate[]): string[] {
  return gates.flatMap((gate) => {
    const arm = report.arms.find((a) => a.name === gate.arm)
    if (!arm) return [`${gate.text}: no arm named ${gate.arm}`]
    const rate = (gate.check === 'passAll' ? arm.passAll : arm.checks[gate.check])?.rate ?? null
    if (rate === null) return [`${gate.text}: ${gate.check} was not decided for ${gate.arm}`]
    const ok =
      gate.op === '>='
        ? rate >= gate.value
        : gate.op === '>'
          ? rate > gate.value
          : gate.op === '<='
            ? rate <= gate.value
            : rate < gate.value
    return ok ? [] : [`${gate.text}: ${gate.check} is ${rate.toFixed(3)}`]
  })
}

const percent = (rate: Rate | undefined) =>
  !rate || rate.rate === null
    ? '–'
    : `${(rate.rate * 100).toFixed(0)}% (${(rate.interval!.low * 100).toFixed(0)}–${(rate.interval!.high * 100).toFixed(0)})`
const number = (value: number | null, digits = 0) => (value === null ? '–' : value.toFixed(digits))
const usd = (value: number | null) => (value === null ? 'unpriced' : `$${value.toFixed(6)}`)

/** The side-by-side table: one column per arm, one row per check and measure. */
export function formatTable(run: EvalRunView): string {
  const arms = run.report.arms
  const checks = [...new Set(arms.flatMap((a) => Object.keys(a.checks)))]
  const rows: [string, ...string[]][] = [
    ['', ...arms.map((a) => a.name)],
    ['model', ...arms.map((a) => `${a.model} v${a.taskVersion}`)],
    ['prompt / retrieval', ...arms.map((a) => `${a.promptVariant} / ${a.retrieval}`)],
    ['results (failed)', ...arms.map((a) => `${a.results} (${a.failed})`)],
    ...checks.map((name): [string, ...string[]] => [name, ...arms.map((a) => percent(a.checks[name]))]),
    ['all checks', ...arms.map((a) => percent(a.passAll))],
    ...(arms.some((a) => a.judge)
      ? [
          [
            'judge mean (unstable)',
            ...arms.map((a: ArmReport) =>
              a.judge ? `${number(a.judge.mean, 2)} (${a.judge.unstableCases.length})` : '–',
            ),
          ] as [string, ...string[]],
        ]
      : []),
    ...(arms.some((a) => a.pairwise)
      ? [
          [
            'wins vs first arm',
            ...arms.map((a: ArmReport) =>
              a.pairwise?.winRate != null
                ? `${(a.pairwise.winRate * 100).toFixed(0)}% (${(a.pairwise.interval!.low * 100).toFixed(0)}–${(a.pairwise.interval!.high * 100).toFixed(0)})`
                : '–',
            ),
          ] as [string, ...string[]],
        ]
      : []),
    ...(arms.some((a) => a.reviewerAgreement && a.reviewerAgreement.compared > 0)
      ? [
          [
            'judge agrees with reviewers',
            ...arms.map((a: ArmReport) => {
              const agreement = a.reviewerAgreement
              if (!agreement || agreement.rate === null) return '–'
              return `${(agreement.rate * 100).toFixed(0)}% of ${agreement.compared} (${(agreement.interval!.low * 100).toFixed(0)}–${(agreement.interval!.high * 100).toFixed(0)})`
            }),
          ] as [string, ...string[]],
        ]
      : []),
    ['latency p50 / p95 ms', ...arms.map((a) => `${number(a.latencyMs.p50)} / ${number(a.latencyMs.p95)}`)],
    ['tokens in / out', ...arms.map((a) => `${a.tokens.prompt} / ${a.tokens.completion}`)],
    ['cost per case', ...arms.map((a) => usd(a.cost.perCaseUsd))],
    ['invalid citations', ...arms.map((a) => String(a.invalidCitations))],
  ]
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)))
  const lines = rows.map((row) =>
    row
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  )
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '))
  const status = `run ${run.id}: ${run.status}${run.stoppedReason ? ` (${run.stoppedReason})` : ''}`
  const differing = run.report.differences.length
  return [
    status,
    '',
    ...lines,
    '',
    `${differing} case${differing === 1 ? '' : 's'} where the arms differ.`,
  ].join('\n')
}
