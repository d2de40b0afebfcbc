import { useMemo, useState } from 'preact/hooks'
import type uPlot from 'uplot'
import { call } from '../api.js'
import { barOptions, Chart, whiskers } from '../chart.js'
import { count, plural } from '../format.js'
import { href } from '../router.js'
import type { TaskInsights } from '../types.js'
import { ErrorMessage, Loading, PageTitle } from '../ui.js'
import { useCall } from '../use-call.js'

const DECISIONS: Record<string, { label: string; tone: string }> = {
  not_enough_data: { label: 'Not enough data', tone: 'queued' },
  keep_prompting: { label: 'Keep prompting', tone: 'succeeded' },
  collect_examples: { label: 'Collect examples', tone: 'queued' },
  try_fine_tune: { label: 'Try fine-tuning', tone: 'succeeded' },
  promote: { label: 'Promote', tone: 'succeeded' },
  roll_back: { label: 'Roll back', tone: 'failed' },
  never_breaks_even: { label: 'Never breaks even', tone: 'failed' },
}
const WINDOWS = [
  ['7d', 'Last 7 days'],
  ['30d', 'Last 30 days'],
  ['90d', 'Last 90 days'],
] as const
const ARM_LABEL = { foundation: 'Foundation', fine_tuned: 'Fine-tuned' } as const
const pct = (n: number | null | undefined) =>
  n === null || n === undefined ? '–' : `${(n * 100).toFixed(1)}%`
const usd = (n: number | null) =>
  n === null
    ? 'unknown (unpriced)'
    : `${n < 0 ? '-' : ''}$${Math.abs(n).toFixed(n !== 0 && Math.abs(n) < 0.01 ? 6 : 2)}`

/** A task's insights: volume, cost and approval per arm, examples against 500, and the verdict. */
export function TaskInsightsPage({ name }: { name: string }) {
  const [span, setSpan] = useState('30d')
  const path = `/v1/tasks/${encodeURIComponent(name)}/insights?window=${span}`
  const insights = useCall((signal) => call<TaskInsights>(path, { signal }), [path])
  const data = insights.data
  return (
    <>
      <p class="crumbs">
        <a href={href('tasks')}>Tasks</a> / <a href={href('tasks', name)}>{name}</a> /
      </p>
      <PageTitle>Insights: {name}</PageTitle>
      <p>
        <label for="insights-window">Window</label>{' '}
        <select id="insights-window" value={span} onChange={(e) => setSpan(e.currentTarget.value)}>
          {WINDOWS.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
      </p>
      <ErrorMessage error={insights.error} />
      {insights.loading && !data && <Loading what="insights" />}
      {data && <InsightsBody insights={data} />}
    </>
  )
}

function InsightsBody({ insights }: { insights: TaskInsights }) {
  const decision = DECISIONS[insights.verdict.decision] ?? {
    label: insights.verdict.decision,
    tone: 'queued',
  }
  const days = insights.volume.perDay
  const volume = useMemo(
    () => ({
      options: {
        scales: {
          x: { time: true },
          y: {
            range: (_u: uPlot, _min: number, max: number) => [0, Math.max(1, max) * 1.15] as [number, number],
          },
        },
        axes: [{}, { label: 'calls', size: 60 }],
        series: [{}, { label: 'calls', stroke: '#2f5da8', fill: 'rgba(47, 93, 168, 0.25)', width: 2 }],
        legend: { show: false },
      } satisfies Omit<uPlot.Options, 'width' | 'height'>,
      data: [
        days.map((d) => Date.parse(`${d.date}T00:00:00Z`) / 1000),
        days.map((d) => d.calls),
      ] as uPlot.AlignedData,
    }),
    [days],
  )
  const arms = insights.arms
  const labels = arms.map((a) => ARM_LABEL[a.arm])
  const cost = useMemo(
    () => ({
      options: barOptions(
        labels,
        [{ label: 'cost per call (USD)', fill: '#2f5da8', stroke: '#2f5da8' }],
        'USD a call',
        (v) => (v === 0 ? '$0' : `$${v.toPrecision(2)}`),
      ),
      data: [arms.map((_, i) => i), arms.map((a) => a.costPerCallUsd)] as uPlot.AlignedData,
    }),
    [arms],
  )
  const approval = useMemo(() => {
    const options = barOptions(
      labels,
      [{ label: 'approval rate', fill: '#3c8d5a', stroke: '#3c8d5a' }],
      'approved',
      (v) => `${Math.round(v * 100)}%`,
    )
    options.scales = { ...options.scales, y: { range: [0, 1] } }
    options.plugins = [
      whiskers(
        arms.map((a) =>
          a.review.approvalInterval
            ? ([a.review.approvalInterval.low, a.review.approvalInterval.high] as const)
            : null,
        ),
      ),
    ]
    return {
      options,
      data: [arms.map((_, i) => i), arms.map((a) => a.review.approvalRate)] as uPlot.AlignedData,
    }
  }, [arms])
  const { clean, target } = insights.examples
  return (
    <>
      <section aria-labelledby="verdict-title" class="verdict">
        <h2 id="verdict-title">
          Verdict: <span class={`badge badge-${decision.tone}`}>{decision.label}</span>
        </h2>
        <p class="verdict-summary">{insights.verdict.summary}</p>
        <ul class="reasons">
          {insights.verdict.reasons.map((reason) => (
            <li key={reason.code}>{reason.message}</li>
          ))}
        </ul>
        <p class="hint">
          Last {insights.window.days} days: {count(insights.volume.calls)} calls, about{' '}
          {count(insights.volume.projectedMonthly)} a month;{' '}
          {plural(insights.stability.requirementChanges, 'requirement change')}.
          {insights.candidate &&
            ` Fine-tuned candidate: ${insights.candidate.model} (${insights.candidate.state}, version ${insights.candidate.version}).`}
        </p>
      </section>
      <section aria-labelledby="charts-title" class="insights-charts">
        <h2 id="charts-title">Per day and per arm</h2>
        <div class="charts">
          <Chart
            id="volume"
            caption="Calls per day"
            options={volume.options}
            data={volume.data}
            table={{
              head: ['Day', 'Calls'],
              rows: days.filter((d) => d.calls > 0).map((d) => [d.date, d.calls]),
            }}
          />
          <Chart
            id="cost"
            caption="Cost per call, per arm"
            options={cost.options}
            data={cost.data}
            table={{
              head: ['Arm', 'Calls', 'Cost per call'],
              rows: arms.map((a) => [ARM_LABEL[a.arm], a.calls, a.calls === 0 ? '–' : usd(a.costPerCallUsd)]),
            }}
          />
          <Chart
            id="approval"
            caption="Approval rate per arm, with its 95% interval"
            options={approval.options}
            data={approval.data}
            table={{
              head: ['Arm', 'Reviewed', 'Approved', '95% interval'],
              rows: arms.map((a) => [
                ARM_LABEL[a.arm],
                a.review.reviewed,
                pct(a.review.approvalRate),
                a.review.approvalInterval
                  ? `${pct(a.review.approvalInterval.low)}–${pct(a.review.approvalInterval.high)}`
                  : '–',
              ]),
            }}
          />
        </div>
      </section>
      <section aria-labelledby="examples-title" class="examples">
        <h2 id="examples-title">Clean examples</h2>
        <p>
          <label for="examples-meter">
            {count(clean)} of {count(target)} approved or corrected examples
          </label>{' '}
          <meter
            id="examples-meter"
            min={0}
            max={target}
            low={target - 1}
            optimum={target}
            value={Math.min(clean, target)}
          />
        </p>
      </section>
      <section aria-labelledby="money-title">
        <h2 id="money-title">Break-even</h2>
        {insights.breakEven.priced ? (
          <p>
            Saving per call: {usd(insights.breakEven.savingPerCallUsd)}; training{' '}
            {insights.breakEven.trainingCostUsd === null
              ? `unknown (${insights.breakEven.trainingUnknownBecause ?? 'no estimate'})`
              : usd(insights.breakEven.trainingCostUsd)}
            ; pays back{' '}
            {insights.breakEven.paybackDays === null
              ? 'never'
              : `in about ${insights.breakEven.paybackDays} days`}
            .
          </p>
        ) : (
          <ul class="reasons">
            {insights.breakEven.blockedBy.map((blocker) => (
              <li key={blocker}>Unpriced: {blocker}</li>
            ))}
          </ul>
        )}
      </section>
    </>
  )
}
