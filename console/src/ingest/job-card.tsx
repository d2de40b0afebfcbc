import { useEffect, useState } from 'preact/hooks'
import { ApiError, call } from '../api.js'
import { count, dateTime, duration, plural } from '../format.js'
import { PostButton } from '../post-button.js'
import type { IngestJob } from '../types.js'
import { ErrorMessage, StatusBadge } from '../ui.js'
import { useAction } from '../use-call.js'

const POLL_MS = 1000
const FINISHED = new Set(['succeeded', 'failed', 'succeeded_with_errors', 'cancelled', 'canceled'])

export function isFinished(job: IngestJob): boolean {
  return FINISHED.has(job.status)
}

/** Follow one job: poll while it is queued or running, stop when it ends. */
function useJob(id: string, onChange: (job: IngestJob) => void) {
  const [job, setJob] = useState<IngestJob>()
  const [error, setError] = useState<unknown>()
  // Bumped after an action on the job, so polling starts again from its new state.
  const [round, setRound] = useState(0)
  useEffect(() => {
    let stopped = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const poll = async () => {
      try {
        const next = await call<IngestJob>(`/v1/ingest-jobs/${encodeURIComponent(id)}`)
        if (stopped) return
        setJob(next)
        setError(undefined)
        onChange(next)
        if (!isFinished(next)) timer = setTimeout(poll, POLL_MS)
      } catch (caught) {
        if (stopped) return
        setError(caught)
        // A job deleted with its collection will not come back; anything else is retried.
        if (!(caught instanceof ApiError && caught.status === 404)) timer = setTimeout(poll, POLL_MS * 3)
      }
    }
    void poll()
    return () => {
      stopped = true
      clearTimeout(timer)
    }
  }, [id, round])
  return { job, error, refresh: () => setRound((r) => r + 1) }
}

/** Cancel, retry and dismiss, each a POST to the job; the list is reloaded after a retry or dismissal. */
function JobActions(props: {
  job: IngestJob
  finished: boolean
  refresh: () => void
  onListChange: () => void
}) {
  const { job, finished } = props
  const action = useAction()
  const short = job.id.slice(0, 8)
  const path = (verb: string) => `/v1/ingest-jobs/${encodeURIComponent(job.id)}/${verb}`
  return (
    <span class="job-actions">
      {!finished && !job.cancelRequested && (
        <PostButton
          action={action}
          path={path('cancel')}
          onDone={props.refresh}
          class="secondary small"
          label={`Cancel job ${short}`}
        >
          Cancel
        </PostButton>
      )}
      {!finished && job.cancelRequested && <span class="muted">Stopping…</span>}
      {job.retryable && (
        <PostButton
          action={action}
          path={path('retry')}
          onDone={props.onListChange}
          class="small"
          label={`Retry job ${short}`}
        >
          Retry
        </PostButton>
      )}
      {finished && (
        <PostButton
          action={action}
          path={path('dismiss')}
          onDone={props.onListChange}
          class="secondary small"
          label={`Dismiss job ${short}`}
        >
          Dismiss
        </PostButton>
      )}
      {action.error !== undefined && <ErrorMessage error={action.error} />}
    </span>
  )
}

export function JobCard(props: { id: string; onListChange: () => void; onChange: (job: IngestJob) => void }) {
  const { job, error, refresh } = useJob(props.id, props.onChange)
  if (!job) {
    return (
      <li class="job card" data-job-id={props.id}>
        {error ? <ErrorMessage error={error} /> : <p class="muted">Loading job {props.id.slice(0, 8)}…</p>}
        {error !== undefined && (
          <button type="button" class="secondary" onClick={props.onListChange}>
            Reload the list
          </button>
        )}
      </li>
    )
  }
  const p = job.progress
  const problems = job.errors.length
  const documentsTotal = p?.documents.total ?? 0
  const finished = isFinished(job)
  return (
    <li class="job card" data-job-id={job.id} data-status={job.status}>
      <div class="job-head">
        <StatusBadge status={job.status} problems={problems} />
        <span>
          {job.mode} job <code title={job.id}>{job.id.slice(0, 8)}</code>, started {dateTime(job.createdAt)}
        </span>
        <JobActions job={job} finished={finished} refresh={refresh} onListChange={props.onListChange} />
      </div>
      <div class="job-progress" aria-live="polite">
        {documentsTotal > 0 ? (
          <progress aria-label="Documents processed" max={documentsTotal} value={p?.documents.done ?? 0} />
        ) : finished ? (
          <progress aria-label="Documents processed" max={1} value={1} />
        ) : (
          <progress aria-label="Waiting for the job to start" />
        )}
        <p class="job-counts">
          {p ? (
            <>
              <strong>
                {count(p.documents.done)} of {count(documentsTotal)} documents
              </strong>{' '}
              ({count(p.documents.added)} added, {count(p.documents.updated)} updated,{' '}
              {count(p.documents.unchanged)} unchanged, {count(p.documents.deleted)} deleted) · chunks{' '}
              {count(p.chunks.embedded)} embedded, {count(p.chunks.reused)} reused, {count(p.chunks.pending)}{' '}
              without embedding
              {!finished && p.etaSeconds !== null && <> · about {duration(p.etaSeconds)} left</>}
            </>
          ) : finished ? (
            'It ended before a worker started it.'
          ) : (
            'Waiting for a worker…'
          )}
        </p>
      </div>
      {job.error && (
        <p class="job-failure">
          <strong>{job.status === 'cancelled' ? 'Stopped:' : 'Why it failed:'}</strong> {job.error}
        </p>
      )}
      {problems > 0 && (
        <details class="job-errors" open>
          <summary>
            {plural(problems, 'file or row', 'files or rows')} not ingested
            {!finished && ' so far; the others go on'}
          </summary>
          <table>
            <thead>
              <tr>
                <th scope="col">File</th>
                <th scope="col">Row</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {job.errors.map((issue, i) => (
                <tr key={`${issue.file}:${issue.row ?? ''}:${i}`}>
                  <td>
                    <code>{issue.file}</code>
                  </td>
                  <td>{issue.row ?? '–'}</td>
                  <td>{issue.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      )}
      {error !== undefined && <ErrorMessage error={error} />}
    </li>
  )
}
