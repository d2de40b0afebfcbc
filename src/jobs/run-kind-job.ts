import type { Logger } from 'pino'
import { type FinishedStatus, finishJob, type IngestJobRow, saveJobProgress } from '../db/ingest-jobs.js'
import { isDatabaseUnavailable } from '../db/pg-errors.js'
import type { Queryable } from '../db/transaction.js'
import { type Metrics, observeJobFinished } from '../observability/metrics.js'
import type { JobOutcome, JobRunContext } from './job-handler.js'
import type { JobCounters } from './job-progress.js'

/** A failure the admin can act on: its message becomes the job's error. */
export class JobInputError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'JobInputError'
  }
}

class LeaseLostError extends Error {
  constructor() {
    super('The job lease was lost to another worker.')
    this.name = 'LeaseLostError'
  }
}

export interface KindJobDeps {
  db: Queryable
  logger: Logger
  metrics?: Metrics
}

export interface KindJobIo {
  signal: AbortSignal
  /** Save the progress; throws (ending the run as `lost`) when another worker has taken the job. */
  save(progress: JobCounters): Promise<void>
}

export interface KindJobEnding {
  status: FinishedStatus
  error?: string
}

/**
 * The frame of a handler for a kind other than ingest: the work runs, then the job is finished with its
 * ending. A stopped signal, a lost lease or an unreachable database leave the job to the worker (it is
 * queued again and resumed); an error fails the job, with its message when it is a JobInputError.
 */
export async function runKindJob(
  deps: KindJobDeps,
  job: IngestJobRow,
  context: JobRunContext,
  work: (io: KindJobIo) => Promise<KindJobEnding>,
): Promise<JobOutcome> {
  const io: KindJobIo = {
    signal: context.signal,
    save: async (progress) => {
      if (!(await saveJobProgress(deps.db, job.id, context.workerId, progress))) throw new LeaseLostError()
    },
  }
  let ending: KindJobEnding
  try {
    ending = await work(io)
  } catch (error) {
    if (error instanceof LeaseLostError) return 'lost'
    if (context.signal.aborted) return 'stopped'
    if (isDatabaseUnavailable(error)) {
      deps.logger.warn(
        { err: error, jobId: job.id, kind: job.kind },
        'job interrupted: the database is unavailable',
      )
      return 'interrupted'
    }
    if (!(error instanceof JobInputError))
      deps.logger.error({ err: error, jobId: job.id, kind: job.kind }, 'job failed unexpectedly')
    ending = {
      status: 'failed',
      error:
        error instanceof JobInputError
          ? error.message
          : 'The job failed unexpectedly; the worker log has the details.',
    }
  }
  if (!(await finishJob(deps.db, job.id, context.workerId, ending))) return 'lost'
  observeJobFinished(deps.metrics, { kind: job.kind, status: ending.status })
  return ending.status
}
