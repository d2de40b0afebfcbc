import type pg from 'pg'
import { type Queryable, withTransaction } from './transaction.js'

export type JobStatus = 'queued' | 'running' | FinishedStatus
export type FinishedStatus = 'succeeded' | 'succeeded_with_errors' | 'failed' | 'cancelled'
/** Statuses of a job that will not run again (unless retried). */
export const FINISHED_STATUSES: readonly FinishedStatus[] = [
  'succeeded',
  'succeeded_with_errors',
  'failed',
  'cancelled',
]
export type JobMode = 'upsert' | 'sync' | 'backfill'

/** A row of the one job queue: an ingest job, or a job of another kind (`kind`, run by its handler). */
export interface IngestJobRow {
  id: string
  kind: string
  /** Set for ingest jobs; other kinds may belong to no collection. */
  collectionId: number | null
  status: JobStatus
  /** Set for ingest jobs only. */
  mode: JobMode | null
  options: Record<string, unknown>
  progress: Record<string, unknown>
  errors: unknown[]
  error: string | null
  attempts: number
  lockedBy: string | null
  lockedUntil: Date | null
  createdBy: string | null
  createdAt: Date
  startedAt: Date | null
  finishedAt: Date | null
  /** A cancel was asked for while the job ran; its worker stops at the next boundary. */
  cancelRequestedAt: Date | null
  /** Someone has read this finished job's problems: lists leave it out unless asked. */
  errorsDismissedAt: Date | null
  /** The stored input files are gone (a success needs them no more, or retention ran out): no retry. */
  filesPurgedAt: Date | null
}

const COLUMNS = `id, kind, collection_id AS "collectionId", status, mode, options, progress, errors, error, attempts,
  locked_by AS "lockedBy", locked_until AS "lockedUntil", created_by AS "createdBy", created_at AS "createdAt",
  started_at AS "startedAt", finished_at AS "finishedAt", cancel_requested_at AS "cancelRequestedAt",
  errors_dismissed_at AS "errorsDismissedAt", files_purged_at AS "filesPurgedAt"`

// Claims are serialised so two workers never start jobs of one collection side by side.
export const CLAIM_LOCK_KEY = 7_201_555_003

export async function insertJob(
  db: Queryable,
  job: { collectionId: number; mode: JobMode; options: Record<string, unknown>; createdBy?: string | null },
): Promise<IngestJobRow> {
  const { rows } = await db.query<IngestJobRow>(
    `INSERT INTO ingest_jobs (collection_id, mode, options, created_by) VALUES ($1, $2, $3::jsonb, $4)
     RETURNING ${COLUMNS}`,
    [job.collectionId, job.mode, JSON.stringify(job.options), job.createdBy ?? null],
  )
  return rows[0]!
}

export async function insertJobFile(
  db: Queryable,
  jobId: string,
  file: { ordinal: number; name: string; content: Uint8Array },
): Promise<void> {
  await db.query('INSERT INTO ingest_job_files (job_id, ordinal, name, content) VALUES ($1, $2, $3, $4)', [
    jobId,
    file.ordinal,
    file.name,
    Buffer.from(file.content.buffer, file.content.byteOffset, file.content.byteLength),
  ])
}

export async function readJobFiles(
  db: Queryable,
  jobId: string,
): Promise<{ name: string; content: Buffer }[]> {
  const { rows } = await db.query<{ name: string; content: Buffer }>(
    'SELECT name, content FROM ingest_job_files WHERE job_id = $1 ORDER BY ordinal',
    [jobId],
  )
  return rows
}

export async function findJob(db: Queryable, id: string): Promise<IngestJobRow | undefined> {
  const { rows } = await db.query<IngestJobRow>(`SELECT ${COLUMNS} FROM ingest_jobs WHERE id = $1`, [id])
  return rows[0]
}

/**
 * Take the oldest queued job of one of `kinds`, or a running one whose lease ran out (its worker died),
 * skipping rows other workers hold, jobs resting until `run_after`, and collections that already have a
 * live job. Bumps `attempts`.
 */
export async function claimJob(
  db: pg.Pool | pg.PoolClient,
  workerId: string,
  leaseMs: number,
  onlyJobId?: string,
  kinds: readonly string[] = ['ingest'],
): Promise<IngestJobRow | undefined> {
  return withTransaction(db, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [CLAIM_LOCK_KEY])
    const { rows } = await client.query<IngestJobRow>(
      `UPDATE ingest_jobs SET status = 'running', locked_by = $1,
         locked_until = now() + $2 * interval '1 millisecond', attempts = attempts + 1,
         started_at = coalesce(started_at, now())
       WHERE id = (
         SELECT j.id FROM ingest_jobs j
         WHERE (j.status = 'queued' OR (j.status = 'running' AND j.locked_until < now()))
           AND ($3::uuid IS NULL OR j.id = $3)
           AND j.kind = ANY ($4::text[])
           AND (j.run_after IS NULL OR j.run_after <= now())
           AND NOT EXISTS (
             SELECT 1 FROM ingest_jobs r WHERE r.collection_id = j.collection_id AND r.id <> j.id
               AND r.status = 'running' AND r.locked_until >= now())
         ORDER BY j.created_at, j.id
         LIMIT 1
         FOR UPDATE SKIP LOCKED)
       RETURNING ${COLUMNS}`,
      [workerId, leaseMs, onlyJobId ?? null, kinds],
    )
    return rows[0]
  })
}

/**
 * Extend the lease. `lost`: another worker has taken the job over; `cancel`: still ours, but a cancel
 * was asked for, so the worker should stop it.
 */
export async function renewLease(
  db: Queryable,
  jobId: string,
  workerId: string,
  leaseMs: number,
): Promise<'held' | 'lost' | 'cancel'> {
  const { rows } = await db.query<{ cancel: boolean }>(
    `UPDATE ingest_jobs SET locked_until = now() + $3 * interval '1 millisecond'
     WHERE id = $1 AND locked_by = $2 AND status = 'running'
     RETURNING cancel_requested_at IS NOT NULL AS cancel`,
    [jobId, workerId, leaseMs],
  )
  if (rows.length === 0) return 'lost'
  return rows[0]!.cancel ? 'cancel' : 'held'
}

/**
 * Queue a job of a kind other than ingest (its handler reads `options`). Kinds that belong to a
 * collection pass it, and then never run side by side with another job of that collection.
 */
export async function insertKindJob(
  db: Queryable,
  job: {
    kind: string
    options: Record<string, unknown>
    collectionId?: number | null
    createdBy?: string | null
  },
): Promise<IngestJobRow> {
  const { rows } = await db.query<IngestJobRow>(
    `INSERT INTO ingest_jobs (kind, collection_id, options, created_by) VALUES ($1, $2, $3::jsonb, $4)
     RETURNING ${COLUMNS}`,
    [job.kind, job.collectionId ?? null, JSON.stringify(job.options), job.createdBy ?? null],
  )
  return rows[0]!
}

/**
 * Cancel a job: a queued one (or a running one whose worker is gone) is cancelled at once; a running
 * one is marked, and its worker stops it at the next heartbeat. A finished job is left as it is.
 * Returns the job as it is now, or undefined when there is no such job.
 */
export async function cancelJob(db: Queryable, jobId: string): Promise<IngestJobRow | undefined> {
  const { rows } = await db.query<IngestJobRow>(
    `UPDATE ingest_jobs SET
       cancel_requested_at = coalesce(cancel_requested_at, now()),
       status = CASE WHEN status = 'queued' OR locked_until < now() THEN 'cancelled' ELSE status END,
       finished_at = CASE WHEN status = 'queued' OR locked_until < now() THEN now() ELSE finished_at END,
       error = CASE WHEN status = 'queued' OR locked_until < now() THEN 'Cancelled on request.' ELSE error END,
       locked_by = CASE WHEN status = 'queued' OR locked_until < now() THEN NULL ELSE locked_by END,
       locked_until = CASE WHEN status = 'queued' OR locked_until < now() THEN NULL ELSE locked_until END
     WHERE id = $1 AND status IN ('queued', 'running')
     RETURNING ${COLUMNS}`,
    [jobId],
  )
  return rows[0] ?? (await findJob(db, jobId))
}

/** Save progress (and errors when given) if this worker still holds the job. */
export async function saveJobProgress(
  db: Queryable,
  jobId: string,
  workerId: string,
  progress: object,
  errors?: unknown[],
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE ingest_jobs SET progress = $3::jsonb, errors = coalesce($4::jsonb, errors)
     WHERE id = $1 AND locked_by = $2 AND status = 'running'`,
    [jobId, workerId, JSON.stringify(progress), errors === undefined ? null : JSON.stringify(errors)],
  )
  return (rowCount ?? 0) > 0
}

/**
 * Finish a job this worker holds. A job that succeeded needs its input files no more: they are
 * deleted with it. A failed or cancelled one keeps them for a retry until the retention sweep.
 */
export async function finishJob(
  db: Queryable,
  jobId: string,
  workerId: string,
  outcome: { status: FinishedStatus; error?: string },
): Promise<boolean> {
  const { rows } = await db.query<{ finished: number }>(
    `WITH done AS (
       UPDATE ingest_jobs SET status = $3, error = $4, finished_at = now(), locked_by = NULL, locked_until = NULL,
         files_purged_at = CASE WHEN $3 IN ('succeeded', 'succeeded_with_errors') THEN now() END
       WHERE id = $1 AND locked_by = $2 AND status = 'running'
       RETURNING id, files_purged_at),
     purged AS (
       DELETE FROM ingest_job_files WHERE job_id IN (SELECT id FROM done WHERE files_purged_at IS NOT NULL))
     SELECT count(*)::int AS finished FROM done`,
    [jobId, workerId, outcome.status, outcome.error ?? null],
  )
  return (rows[0]?.finished ?? 0) > 0
}

/**
 * Delete the stored input files of jobs finished more than `retentionMs` ago; they were kept only so
 * a failed or cancelled job could be retried. Returns how many jobs lost their files.
 */
export async function purgeExpiredJobFiles(db: Queryable, retentionMs: number): Promise<number> {
  const { rows } = await db.query<{ purged: number }>(
    `WITH expired AS (
       UPDATE ingest_jobs SET files_purged_at = now()
       WHERE finished_at IS NOT NULL AND files_purged_at IS NULL
         AND finished_at <= now() - $1 * interval '1 millisecond'
       RETURNING id),
     purged AS (DELETE FROM ingest_job_files WHERE job_id IN (SELECT id FROM expired))
     SELECT count(*)::int AS purged FROM expired`,
    [retentionMs],
  )
  return rows[0]?.purged ?? 0
}

/** Hand a job back to the queue (worker stopping); progress is kept so the next one resumes. */
export async function releaseJob(db: Queryable, jobId: string, workerId: string): Promise<void> {
  await db.query(
    `UPDATE ingest_jobs SET status = 'queued', locked_by = NULL, locked_until = NULL
     WHERE id = $1 AND locked_by = $2 AND status = 'running'`,
    [jobId, workerId],
  )
}

/**
 * Queue a job this worker holds again, not to be claimed for `delayMs`, with its progress: a handler
 * following a provider rests between looks. The claim's attempt is given back (attempts count the
 * starts a worker did not come back from). False when the job is no longer this worker's.
 */
export async function rescheduleJob(
  db: Queryable,
  jobId: string,
  workerId: string,
  delayMs: number,
  progress: object,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE ingest_jobs SET status = 'queued', locked_by = NULL, locked_until = NULL,
       run_after = now() + $3 * interval '1 millisecond', attempts = greatest(attempts - 1, 0), progress = $4::jsonb
     WHERE id = $1 AND locked_by = $2 AND status = 'running' AND cancel_requested_at IS NULL`,
    [jobId, workerId, delayMs, JSON.stringify(progress)],
  )
  return (rowCount ?? 0) > 0
}

/** Fail jobs that keep killing their workers instead of reclaiming them forever. */
export async function failExhaustedJobs(db: Queryable, maxAttempts: number): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE ingest_jobs SET status = 'failed', finished_at = now(), locked_by = NULL, locked_until = NULL,
       error = 'The job was started ' || attempts || ' times and its worker stopped each time; giving up.'
     WHERE status = 'running' AND locked_until < now() AND attempts >= $1`,
    [maxAttempts],
  )
  return rowCount ?? 0
}

/**
 * Queue a backfill for a collection unless it already has a live job or a recent backfill failed
 * (a broken provider must not turn into a loop of failing jobs).
 */
export async function enqueueBackfillIfIdle(
  db: pg.Pool | pg.PoolClient,
  collectionId: number,
  cooldownMs: number,
): Promise<IngestJobRow | undefined> {
  return withTransaction(db, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [CLAIM_LOCK_KEY])
    const { rows } = await client.query<IngestJobRow>(
      `INSERT INTO ingest_jobs (collection_id, mode, options)
       SELECT $1, 'backfill', '{"automatic": true}'::jsonb
       WHERE NOT EXISTS (
         SELECT 1 FROM ingest_jobs WHERE collection_id = $1 AND (status IN ('queued', 'running')
           OR (mode = 'backfill' AND status = 'failed' AND finished_at > now() - $2 * interval '1 millisecond')))
       RETURNING ${COLUMNS}`,
      [collectionId, cooldownMs],
    )
    return rows[0]
  })
}

/** The collection's latest ingest job (other kinds of job may name a collection too). */
export async function lastJobOfCollection(
  db: Queryable,
  collectionId: number,
): Promise<IngestJobRow | undefined> {
  const { rows } = await db.query<IngestJobRow>(
    `SELECT ${COLUMNS} FROM ingest_jobs WHERE collection_id = $1 AND kind = 'ingest'
     ORDER BY created_at DESC, id DESC LIMIT 1`,
    [collectionId],
  )
  return rows[0]
}

export interface JobQueueStats {
  queued: number
  running: number
  /** Seconds since the oldest queued job was created; null when nothing is queued. */
  oldestQueuedSeconds: number | null
}

/**
 * Read at scrape time rather than tracked in memory, so the numbers are right whichever process
 * (API, worker, CLI) changed the queue. One query on the partial index over unfinished jobs.
 */
export async function readJobQueueStats(db: Queryable): Promise<JobQueueStats> {
  const { rows } = await db.query<JobQueueStats>(
    `SELECT count(*) FILTER (WHERE status = 'queued')::int AS queued,
            count(*) FILTER (WHERE status = 'running')::int AS running,
            extract(epoch FROM now() - min(created_at) FILTER (WHERE status = 'queued'))::float8
              AS "oldestQueuedSeconds"
     FROM ingest_jobs WHERE status IN ('queued', 'running')`,
  )
  return rows[0] ?? { queued: 0, running: 0, oldestQueuedSeconds: null }
}

/** A collection's ingest jobs, newest first; dismissed ones only when asked for. */
export async function listCollectionJobs(
  db: Queryable,
  collectionId: number,
  opts: { includeDismissed: boolean; limit: number },
): Promise<IngestJobRow[]> {
  const { rows } = await db.query<IngestJobRow>(
    `SELECT ${COLUMNS} FROM ingest_jobs
     WHERE collection_id = $1 AND kind = 'ingest' AND ($2 OR errors_dismissed_at IS NULL)
     ORDER BY created_at DESC LIMIT $3`,
    [collectionId, opts.includeDismissed, opts.limit],
  )
  return rows
}

/** Mark a finished job's problems as read; a job still queued or running is left as it is. */
export async function dismissJob(db: Queryable, jobId: string): Promise<IngestJobRow | undefined> {
  const { rows } = await db.query<IngestJobRow>(
    `UPDATE ingest_jobs SET errors_dismissed_at = coalesce(errors_dismissed_at, now())
     WHERE id = $1 AND finished_at IS NOT NULL AND status NOT IN ('queued', 'running')
     RETURNING ${COLUMNS}`,
    [jobId],
  )
  return rows[0] ?? (await findJob(db, jobId))
}

/**
 * Queue a failed or cancelled ingest job again: a new job with the same collection, mode and options,
 * and a copy of the stored input files (copied inside the database). The old job records the new one,
 * so a second retry is refused instead of ingesting twice. Returns the new job, or why it cannot be done.
 */
export async function retryJob(
  db: pg.Pool,
  jobId: string,
  createdBy: string | null,
): Promise<{ job: IngestJobRow } | { refused: string }> {
  return withTransaction(db, async (client) => {
    const { rows } = await client.query<IngestJobRow>(
      `SELECT ${COLUMNS} FROM ingest_jobs WHERE id = $1 FOR UPDATE`,
      [jobId],
    )
    const old = rows[0]
    if (!old) return { refused: 'gone' }
    const retriedAs = old.options.retriedAs
    if (typeof retriedAs === 'string') return { refused: `It was retried already, as job ${retriedAs}.` }
    if (old.status !== 'failed' && old.status !== 'cancelled')
      return { refused: `Only a failed or cancelled job can be retried; this one is ${old.status}.` }
    if (old.filesPurgedAt !== null && old.mode !== 'backfill')
      return { refused: 'Its uploaded files are no longer stored (retention ran out): upload them again.' }
    const { retriedAs: _, ...options } = old.options
    const job = await insertJob(client, {
      collectionId: old.collectionId!,
      mode: old.mode!,
      options: { ...options, retryOf: old.id },
      createdBy,
    })
    await client.query(
      `INSERT INTO ingest_job_files (job_id, ordinal, name, content)
       SELECT $2, ordinal, name, content FROM ingest_job_files WHERE job_id = $1`,
      [old.id, job.id],
    )
    await client.query(
      `UPDATE ingest_jobs SET options = options || jsonb_build_object('retriedAs', $2::text),
         errors_dismissed_at = coalesce(errors_dismissed_at, now())
       WHERE id = $1`,
      [old.id, job.id],
    )
    return { job }
  })
}
