import type { TaskInsights } from '../insights/insights-view.js'
import { getTaskInsights } from '../insights/task-insights.js'
import { InsightsWindow } from '../insights/window.js'
import { withServices } from '../services.js'
import { EXIT, parseCommandArgs, UsageError } from './run-command.js'

export const usage = `Usage:
  onbrand insights TASK [--window 30d] [--json]
  Volume, cost and quality per arm, break-even and the verdict for one task (see README, "Insights and
  the verdict"). --json prints what GET /v1/tasks/TASK/insights answers.`

const usd = (n: number | null) =>
  n === null ? 'unknown' : `${n < 0 ? '-' : ''}$${Math.abs(n).toFixed(n !== 0 && Math.abs(n) < 0.01 ? 6 : 2)}`
const pct = (n: number | null) => (n === null ? '-' : `${(n * 100).toFixed(1)}%`)

export function formatInsights(i: TaskInsights): string {
  const lines = [
    `${i.task} (active version ${i.activeVersion}), last ${i.window.days} days`,
    `verdict: ${i.verdict.decision} — ${i.verdict.summary}`,
    ...i.verdict.reasons.map((r) => `  - ${r.message}`),
    ...(i.candidate
      ? [`candidate: ${i.candidate.model} (${i.candidate.state}, version ${i.candidate.version})`]
      : []),
    ...(i.evaluation
      ? [
          `evaluation ${i.evaluation.runId}: ${i.evaluation.candidate.arm} ${pct(i.evaluation.candidate.rate)} of ${i.evaluation.candidate.decided}, ${i.evaluation.foundation.arm} ${pct(i.evaluation.foundation.rate)} of ${i.evaluation.foundation.decided} passed every check`,
        ]
      : []),
    '',
    `volume: ${i.volume.calls} calls (${i.volume.failed} failed), ${i.volume.callsPerDay}/day, about ${i.volume.projectedMonthly}/month`,
    `${'arm'.padEnd(11)} ${'model'.padEnd(29)} ${'calls'.padStart(6)} ${'cost/call'.padStart(10)} ${'p50 ms'.padStart(7)} ${'p95 ms'.padStart(7)} ${'fallback'.padStart(9)}   ${'approval (reviewed) [95% CI]'.padEnd(30)} ${'corrected'.padStart(9)}  eval`,
  ]
  for (const arm of i.arms)
    for (const m of arm.models) {
      const r = m.review
      const ci = r.approvalInterval ? ` [${pct(r.approvalInterval.low)}–${pct(r.approvalInterval.high)}]` : ''
      lines.push(
        [
          arm.arm.padEnd(11),
          String(m.model ?? '-').padEnd(29),
          String(m.calls).padStart(6),
          usd(m.costPerCallUsd).padStart(10),
          String(m.latencyMs.p50 ?? '-').padStart(7),
          String(m.latencyMs.p95 ?? '-').padStart(7),
          pct(m.fallbackRate).padStart(9),
          `  ${pct(r.approvalRate)} (${r.reviewed})${ci}`.padEnd(32),
          pct(r.correctionRate).padStart(9),
          ` ${m.evaluation ? pct(m.evaluation.passRate) : '-'}`,
        ].join(' '),
      )
    }
  const b = i.breakEven
  lines.push(
    '',
    `examples: ${i.examples.clean} clean (target ${i.examples.target})`,
    `requirement changes: ${i.stability.requirementChanges} in the window (${i.stability.changesPerWeek}/week)`,
    `fine-tuned template saves: ${i.promptComposition.template.savedTokens ?? '-'} tokens a call`,
    `break-even (${b.fineTunedModel}): base ${usd(b.baseCostPerCallUsd)}/call, fine-tuned ${usd(b.fineTunedCostPerCallUsd)}/call, saving ${usd(b.savingPerCallUsd)}/call, training ${usd(b.trainingCostUsd)}, payback ${b.paybackDays === null ? 'never' : `${b.paybackCalls} calls, ${b.paybackDays} days`}`,
    ...b.blockedBy.map((blocker) => `  unpriced: ${blocker}`),
    ...i.models
      .filter((m) => m.daysUntilShutdown !== null)
      .map((m) => `shutdown: ${m.id} on ${m.shutdownDate} (${m.daysUntilShutdown} days)`),
  )
  return lines.join('\n')
}

export async function run(args: string[]): Promise<number> {
  const { positionals, values } = parseCommandArgs(usage, args, {
    window: { type: 'string' },
    json: { type: 'boolean' },
  })
  const [task, ...extra] = positionals
  if (!task || extra.length > 0) throw new UsageError(`Name one task\n\n${usage}`)
  const window = InsightsWindow.safeParse(values.window)
  if (!window.success) throw new UsageError(`--window: ${window.error.issues[0]?.message}\n\n${usage}`)
  return withServices({ quiet: true }, async ({ db, models }) => {
    const insights = await getTaskInsights({ db: db.pool, models }, { task, windowDays: window.data })
    process.stdout.write(values.json ? `${JSON.stringify(insights)}\n` : `${formatInsights(insights)}\n`)
    return EXIT.ok
  })
}
