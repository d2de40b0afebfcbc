import { call } from '../api.js'
import { dateTime } from '../format.js'
import { href } from '../router.js'
import type { EvalRunSummary } from '../types.js'
import { ErrorMessage, Loading, StatusBadge } from '../ui.js'
import { useCall } from '../use-call.js'

/** A task's evaluation runs, newest first, each linking to its side-by-side report. */
export function TaskEvalRuns({ task }: { task: string }) {
  const runs = useCall(
    (signal) =>
      call<{ data: EvalRunSummary[] }>(`/v1/eval-runs?task=${encodeURIComponent(task)}&limit=20`, { signal }),
    [task],
  )
  const data = runs.data?.data ?? []
  return (
    <section aria-labelledby="eval-runs-title">
      <h2 id="eval-runs-title">Evaluation runs</h2>
      <p class="hint">
        Runs of this task's evaluation sets through several arms (model, prompt, retrieval), started with{' '}
        <code>onbrand evals run</code> or <code>POST /v1/eval-runs</code>.
      </p>
      <ErrorMessage error={runs.error} />
      {runs.loading && !runs.data && <Loading what="evaluation runs" />}
      {runs.data && data.length === 0 && <p>No evaluation runs yet for this task.</p>}
      {data.length > 0 && (
        <table class="eval-runs">
          <thead>
            <tr>
              <th scope="col">Started</th>
              <th scope="col">Set</th>
              <th scope="col">Arms</th>
              <th scope="col">Status</th>
              <th scope="col" class="num">
                Results
              </th>
            </tr>
          </thead>
          <tbody>
            {data.map((run) => (
              <tr key={run.id}>
                <td>
                  <a
                    href={href('eval-runs', run.id)}
                    aria-label={`Evaluation run of ${dateTime(run.createdAt)}`}
                  >
                    {dateTime(run.createdAt)}
                  </a>
                </td>
                <td>
                  {run.set.name} v{run.set.version}
                </td>
                <td>
                  {run.arms.map((a) => a.name).join(' · ')}
                  {run.judge && <span class="muted"> (judge {run.judge.model})</span>}
                </td>
                <td>
                  <StatusBadge status={run.status} />
                </td>
                <td class="num">{run.progress ? `${run.progress.done} of ${run.progress.total}` : '–'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}
