import type { ComponentChildren } from 'preact'
import { useEffect } from 'preact/hooks'
import { call } from '../api.js'
import { dateTime, duration } from '../format.js'
import { PostButton } from '../post-button.js'
import { href } from '../router.js'
import type { EvalAgreement, EvalArmReport, EvalRate, EvalRun, EvalSetCase, Interval } from '../types.js'
import { ErrorMessage, Loading, PageTitle, StatusBadge } from '../ui.js'
import { useAction, useCall } from '../use-call.js'

const POLL_MS = 2000
const LIVE = new Set(['queued', 'running'])

const pct = (value: number) => `${(value * 100).toFixed(0)}%`
const interval = (i: Interval | null) => (i ? ` (${pct(i.low)}–${pct(i.high)})` : '')
const rateText = (r: EvalRate | undefined) =>
  !r || r.rate === null ? '–' : `${pct(r.rate)}${interval(r.interval)}`
const usd = (value: number | null) => (value === null ? 'unpriced' : `$${value.toFixed(6)}`)
const ms = (value: number | null) => (value === null ? '–' : `${Math.round(value)}`)

/** Spend so far; results of unpriced models are counted, never priced at $0. */
function spentText(p: { spentUsd?: number; unpricedResults?: number }): string {
  const unpriced = p.unpricedResults ?? 0
  const spent = `$${(p.spentUsd ?? 0).toFixed(4)} spent`
  return unpriced === 0 ? spent : `${spent} on priced calls, ${unpriced} results unpriced`
}

function agreementText(a: EvalAgreement | null): string {
  if (!a || a.rate === null) return '–'
  return `${pct(a.rate)} of ${a.compared}${interval(a.interval)}`
}

/** One evaluation run: status and progress while it runs, then each arm side by side and where they differ. */
export function EvalRunPage({ id }: { id: string }) {
  const run = useCall((signal) => call<EvalRun>(`/v1/eval-runs/${encodeURIComponent(id)}`, { signal }), [id])
  const live = run.data !== undefined && LIVE.has(run.data.status)
  useEffect(() => {
    if (!live) return
    const timer = setTimeout(run.reload, POLL_MS)
    return () => clearTimeout(timer)
  }, [live, run.data])
  const cancel = useAction()
  const r = run.data
  return (
    <>
      <p class="crumbs">
        <a href={href('tasks')}>Tasks</a> / {r && <a href={href('tasks', r.task)}>{r.task}</a>}
      </p>
      <PageTitle>Evaluation run {id.slice(0, 8)}</PageTitle>
      <ErrorMessage error={run.error} />
      {!r ? (
        !run.error && <Loading what="the evaluation run" />
      ) : (
        <>
          <div class="run-head">
            <StatusBadge status={r.status} />
            <span>
              started {dateTime(r.createdAt)}
              {r.finishedAt && <>, finished {dateTime(r.finishedAt)}</>}
            </span>
            {live && (
              <PostButton
                action={cancel}
                path={`/v1/eval-runs/${encodeURIComponent(id)}/cancel`}
                onDone={run.reload}
                class="secondary small"
              >
                Cancel run
              </PostButton>
            )}
          </div>
          <ErrorMessage error={cancel.error} />
          {r.progress && (
            <div class="job-progress" aria-live="polite">
              <progress
                aria-label="Results stored"
                max={Math.max(1, r.progress.total)}
                value={r.progress.done}
              />
              <p class="job-counts">
                <strong>
                  {r.progress.done} of {r.progress.total} results
                </strong>{' '}
                ({r.progress.phase}){r.progress.spentUsd !== undefined && <> · {spentText(r.progress)}</>}
                {live && r.progress.etaSeconds !== null && (
                  <> · about {duration(r.progress.etaSeconds)} left</>
                )}
              </p>
            </div>
          )}
          {(r.stoppedReason ?? r.error) && (
            <p class="job-failure">
              <strong>{r.stoppedReason ? 'Stopped:' : 'Problem:'}</strong> {r.stoppedReason ?? r.error}
            </p>
          )}
          <SideBySide arms={r.report.arms} />
          {r.report.reviewerAgreement && r.report.reviewerAgreement.compared > 0 && (
            <p>
              The judge agrees with reviewers on {agreementText(r.report.reviewerAgreement)} of the outputs
              they reviewed ({r.report.reviewerAgreement.judgeLenient} passed that reviewers turned down,{' '}
              {r.report.reviewerAgreement.judgeStrict} failed that they approved).
            </p>
          )}
          <Differences run={r} />
        </>
      )}
    </>
  )
}

/** A header row: the first column's heading, then one column per arm. */
function ArmHeaders({ arms, first }: { arms: EvalArmReport[]; first: ComponentChildren }) {
  return (
    <tr>
      <th scope="col">{first}</th>
      {arms.map((a) => (
        <th scope="col" key={a.name}>
          {a.name}
        </th>
      ))}
    </tr>
  )
}

function SideBySide({ arms }: { arms: EvalArmReport[] }) {
  const checks = [...new Set(arms.flatMap((a) => Object.keys(a.checks)))]
  const row = (label: string, cell: (a: EvalArmReport) => string) => (
    <tr key={label}>
      <th scope="row">{label}</th>
      {arms.map((a) => (
        <td key={a.name}>{cell(a)}</td>
      ))}
    </tr>
  )
  return (
    <section aria-labelledby="side-by-side-title">
      <h2 id="side-by-side-title">Side by side</h2>
      <p class="hint">Pass rates with their 95% Wilson intervals; a check nobody could decide shows –.</p>
      <table class="side-by-side">
        <thead>
          <ArmHeaders arms={arms} first={<span class="visually-hidden">Measure</span>} />
        </thead>
        <tbody>
          {row('Model', (a) => `${a.model} (v${a.taskVersion})`)}
          {row('Prompt / retrieval', (a) => `${a.promptVariant} / ${a.retrieval}`)}
          {row('Results (failed)', (a) => `${a.results} (${a.failed})`)}
          {checks.map((name) => row(name, (a) => rateText(a.checks[name])))}
          {row('All checks', (a) => rateText(a.passAll))}
          {arms.some((a) => a.judge) &&
            row('Judge mean (unstable cases)', (a) =>
              a.judge?.mean != null ? `${a.judge.mean.toFixed(2)} (${a.judge.unstableCases.length})` : '–',
            )}
          {arms.some((a) => a.pairwise) &&
            row('Wins against the first arm', (a) =>
              a.pairwise?.winRate != null
                ? `${pct(a.pairwise.winRate)}${interval(a.pairwise.interval)}`
                : '–',
            )}
          {arms.some((a) => a.reviewerAgreement && a.reviewerAgreement.compared > 0) &&
            row('Judge agrees with reviewers', (a) => agreementText(a.reviewerAgreement))}
          {row('Latency p50 / p95 (ms)', (a) => `${ms(a.latencyMs.p50)} / ${ms(a.latencyMs.p95)}`)}
          {row('Tokens in / out', (a) => `${a.tokens.prompt} / ${a.tokens.completion}`)}
          {row('Cost per case', (a) => usd(a.cost.perCaseUsd))}
          {row('Invalid citations', (a) => String(a.invalidCitations))}
        </tbody>
      </table>
    </section>
  )
}

/** The cases where the arms' pass shares differ, with each case's input and the checks each arm failed. */
function Differences({ run }: { run: EvalRun }) {
  const set = useCall(
    (signal) =>
      call<{ cases: EvalSetCase[] }>(`/v1/eval-sets/${encodeURIComponent(run.evalSetId)}`, { signal }),
    [run.evalSetId],
  )
  const inputs = new Map((set.data?.cases ?? []).map((c) => [c.ordinal, c.input]))
  const { differences, arms } = run.report
  return (
    <section aria-labelledby="differences-title">
      <h2 id="differences-title">Where the arms differ</h2>
      {differences.length === 0 ? (
        <p>No case where the arms' results differ.</p>
      ) : (
        <table class="differences">
          <thead>
            <ArmHeaders arms={arms} first="Case" />
          </thead>
          <tbody>
            {differences.map((d) => (
              <tr key={d.ordinal}>
                <th scope="row">
                  #{d.ordinal} <span class="case-input">{inputs.get(d.ordinal) ?? ''}</span>
                </th>
                {arms.map((a, i) => (
                  <td key={a.name}>
                    {d.passShare[i] == null ? '–' : `${pct(d.passShare[i]!)} passed`}
                    {d.failedChecks[i]!.length > 0 && (
                      <span class="failed-checks"> · failed {d.failedChecks[i]!.join(', ')}</span>
                    )}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}
