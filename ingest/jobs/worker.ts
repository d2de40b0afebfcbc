import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { collectionsWithUnembeddedChunks } from '../../src/db/chunks.js'
import { findCollectionById } from '../../src/db/collections.js'
import { dropExpiredPrompts } from '../../src/db/generation-reads.js'
import {
  claimJob,
  enqueueBackfillIfIdle,
  FINISHED_STATUSES,
  type FinishedStatus,
  failExhaustedJobs,
  findJob,
  finishJob,
  type IngestJobRow,
  purgeExpiredJobFiles,
  releaseJob,
  renewLease,
} from '../../src/db/ingest-jobs.js'
import type { JobHandler, JobHandlers, JobOutcome } from '../../src/jobs/job-handler.js'
import { sleep } from '../../src/lib/sleep.js'
import { observeJobFinished } from '../../src/observability/metrics.js'
import type { IngestDeps } from '../pipeline/deps.js'
import type { JobProgress } from '../pipeline/progress.js'
import { runJob } from '../pipeline/run-job.js'

// A job that has killed this many workers is failed rather than handed to the next one.
const MAX_ATTEMPTS = 5
// How often an idle worker looks for chunks left without embeddings, and how long a failed backfill rests.
const BACKFILL_CHECK_MS = 30_000
const BACKFILL_COOLDOWN_MS = 10 * 60_000
// How often a worker deletes the input files of failed and cancelled jobs past their retention.
const RETENTION_SWEEP_MS = 60_000

export interface WorkerOptions {
  deps: IngestDeps
  /**
   * Handlers of the other job kinds (`services.jobHandlers`: evaluation runs, …), by kind. The worker
   * claims only kinds it has a handler for; ingest is always one of them.
   */
  handlers?: JobHandlers
  workerId?: string
  pollIntervalMs?: number
  leaseMs?: number
  /** Only this job (the CLI works on the job it created); the worker stops once it is done. */
  onlyJobId?: string
  /** Queue backfills by itself when chunks lack embeddings and a provider is configured. Default true. */
  autoBackfill?: boolean
  onProgress?: (job: IngestJobRow, progress: JobProgress) => void
  onJobDone?: (job: IngestJobRow, outcome: JobOutcome) => void
}

export interface WorkerHandle {
  readonly workerId: string
  /** Resolves when the worker has stopped by itself (onlyJobId finished) or after stop(). */
  readonly done: Promise<void>
  /** Stop polling; a job in progress is handed back to the queue with its progress kept. */
  stop(): Promise<void>
}

function defaultWorkerId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`
}

/** A cancel asked for while the job ran (the heartbeat saw it): the job ends `cancelled`, not re-queued. */
class CancelRequested extends Error {
  constructor() {
    super('cancel requested')
    this.name = 'CancelRequested'
  }
}

/**
 * Poll for jobs of the kinds it has handlers for and run them one at a time, renewing the lease while working. Several workers
 * (in several processes) can share a database: claims skip locked rows, and a job whose worker died
 * is reclaimed once its lease has run out.
 */
export function startWorker(options: WorkerOptions): WorkerHandle {
  const { deps } = options
  const workerId = options.workerId ?? defaultWorkerId()
  const pollMs = options.pollIntervalMs ?? deps.config.WORKER_POLL_MS
  const leaseMs = options.leaseMs ?? deps.config.JOB_LEASE_MS
  const log = deps.logger.child({ workerId })
  const stopping = new AbortController()
  const hasProvider = deps.createEmbedder('probe', 1) !== undefined
  let lastBackfillCheck = 0
  let lastRetentionSweep = 0
  const retentionMs = deps.config.INGEST_FILE_RETENTION_HOURS * 3_600_000
  const ingest: JobHandler = (job, context) =>
    runJob(deps, job, context.workerId, {
      signal: context.signal,
      onProgress: (progress) => options.onProgress?.(job, progress),
    })
  const handlers: JobHandlers = { ...options.handlers, ingest }
  const kinds = Object.keys(handlers).sort()

  /** Finish a job stopped by a cancel; false when the job is no longer this worker's. */
  const finishCancelled = async (job: IngestJobRow): Promise<boolean> => {
    const done = await finishJob(deps.db.pool, job.id, workerId, {
      status: 'cancelled',
      error: 'Cancelled on request.',
    })
    if (done) observeJobFinished(deps.metrics, { kind: job.kind, status: 'cancelled' })
    return done
  }

  const runClaimed = async (job: IngestJobRow): Promise<JobOutcome> => {
    // Reclaimed after its worker died while a cancel was pending: nothing more to run.
    if (job.cancelRequestedAt !== null) return (await finishCancelled(job)) ? 'cancelled' : 'lost'
    const handler = handlers[job.kind]!
    const jobAbort = new AbortController()
    const onStop = () => jobAbort.abort(new Error('worker stopping'))
    stopping.signal.addEventListener('abort', onStop, { once: true })
    const heartbeat = setInterval(
      () => {
        renewLease(deps.db.pool, job.id, workerId, leaseMs).then(
          (lease) => {
            if (lease === 'lost') jobAbort.abort(new Error('lease lost'))
            else if (lease === 'cancel') jobAbort.abort(new CancelRequested())
          },
          (error: unknown) => log.warn({ err: error, jobId: job.id }, 'renewing the job lease failed'),
        )
      },
      Math.max(100, Math.floor(leaseMs / 3)),
    )
    try {
      log.info({ jobId: job.id, kind: job.kind, mode: job.mode, attempt: job.attempts }, 'job started')
      let outcome = await handler(job, { workerId, signal: jobAbort.signal })
      if (outcome === 'stopped' && jobAbort.signal.reason instanceof CancelRequested)
        outcome = (await finishCancelled(job)) ? 'cancelled' : 'lost'
      if (outcome === 'stopped' || outcome === 'interrupted') await releaseJob(deps.db.pool, job.id, workerId)
      log.info({ jobId: job.id, kind: job.kind, outcome }, 'job ended')
      return outcome
    } finally {
      clearInterval(heartbeat)
      stopping.signal.removeEventListener('abort', onStop)
    }
  }

  const loop = async () => {
    while (!stopping.signal.aborted) {
      try {
        await failExhaustedJobs(deps.db.pool, MAX_ATTEMPTS)
        if (Date.now() - lastRetentionSweep >= Math.min(RETENTION_SWEEP_MS, retentionMs)) {
          lastRetentionSweep = Date.now()
          const purged = await purgeExpiredJobFiles(deps.db.pool, retentionMs)
          if (purged > 0)
            log.info({ jobs: purged }, 'deleted the stored files of finished jobs past retention')
          const promptDays = deps.config.GENERATION_PROMPT_RETENTION_DAYS
          const dropped = promptDays > 0 ? await dropExpiredPrompts(deps.db.pool, promptDays) : 0
          if (dropped > 0)
            log.info(
              { generations: dropped },
              'dropped the stored prompts of unreviewed generations past retention',
            )
        }
        const job = await claimJob(deps.db.pool, workerId, leaseMs, options.onlyJobId, kinds)
        if (job) {
          const outcome = await runClaimed(job)
          options.onJobDone?.(job, outcome)
          // The job is queued again; give the database a poll interval to come back before claiming it.
          if (outcome === 'interrupted') await sleep(pollMs, stopping.signal)
          // A rescheduled job (a fine-tune resting between looks) is not done: wait for it.
          else if (options.onlyJobId !== undefined && outcome !== 'stopped' && outcome !== 'rescheduled')
            return
          continue
        }
        if (options.onlyJobId !== undefined) {
          const status = (await findJob(deps.db.pool, options.onlyJobId))?.status
          if (status === undefined || FINISHED_STATUSES.includes(status as FinishedStatus)) return
        }
        if (options.onlyJobId === undefined && options.autoBackfill !== false && hasProvider) {
          if (Date.now() - lastBackfillCheck >= BACKFILL_CHECK_MS) {
            lastBackfillCheck = Date.now()
            if (await queueBackfills()) continue
          }
        }
      } catch (error) {
        log.error({ err: error }, 'worker iteration failed; retrying after the poll interval')
      }
      await sleep(pollMs, stopping.signal)
    }
  }

  const queueBackfills = async (): Promise<boolean> => {
    let queued = false
    for (const id of await collectionsWithUnembeddedChunks(deps.db.pool)) {
      const collection = await findCollectionById(deps.db.pool, id)
      if (!collection || !deps.createEmbedder(collection.embeddingModel, collection.embeddingDimensions))
        continue
      const job = await enqueueBackfillIfIdle(deps.db.pool, id, BACKFILL_COOLDOWN_MS)
      if (job) {
        log.info({ jobId: job.id, collection: collection.name }, 'queued a backfill of missing embeddings')
        queued = true
      }
    }
    return queued
  }

  const done = loop()
  return {
    workerId,
    done,
    stop: async () => {
      stopping.abort()
      await done
    },
  }
}
