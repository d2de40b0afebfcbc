import type { FinishedStatus, IngestJobRow } from '../db/ingest-jobs.js'

/**
 * How a handler's run of a job ended. `stopped`: its signal was aborted (the worker is stopping, or a
 * cancel was asked for); `interrupted`: the database went away mid-job; either way the worker decides
 * what becomes of the job. `lost`: another worker holds the job now, so nobody here touches it.
 * `rescheduled`: the handler queued the job again to rest until later (rescheduleJob: a provider's
 * training is looked at again after a backoff, holding no worker meanwhile).
 */
export type JobOutcome = FinishedStatus | 'lost' | 'stopped' | 'interrupted' | 'rescheduled'

export interface JobRunContext {
  workerId: string
  /** Aborted when the worker stops, the lease is lost or a cancel is asked for. */
  signal: AbortSignal
}

/**
 * Runs one claimed job of its kind to the end and finishes it (finishJob) unless it was stopped.
 * A job whose worker died is handed to a handler again, with the progress it saved: the handler must
 * skip the work that is already done.
 */
export type JobHandler = (job: IngestJobRow, context: JobRunContext) => Promise<JobOutcome>

/** Handlers by job kind: what a worker can run. `ingest` is the worker's own. */
export type JobHandlers = Readonly<Record<string, JobHandler>>
