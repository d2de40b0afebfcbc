import { type CollectionAllowlist, canUseCollection } from '../../src/collections/access.js'
import type { CollectionRow } from '../../src/db/collections.js'
import { findCollectionById } from '../../src/db/collections.js'
import { findJob, type IngestJobRow, type JobMode, type JobStatus } from '../../src/db/ingest-jobs.js'
import type { Queryable } from '../../src/db/transaction.js'
import { AppError, type FieldIssue } from '../../src/errors.js'
import { looksLikeArchive } from '../loaders/detect.js'
import type { JobFile } from '../loaders/load-files.js'
import type { IngestIssue, LoadOptions } from '../loaders/types.js'
import type { IngestDeps } from '../pipeline/deps.js'
import { estimateSecondsLeft, type JobProgress } from '../pipeline/progress.js'
import { createIngestJob } from './create-job.js'
import { normalizeUploadName } from './upload-names.js'

export interface SubmitIngestInput {
  collection: CollectionRow
  mode: JobMode
  /** Uploaded files, named as the client sent them. */
  files?: { name: string; content: Uint8Array }[]
  /** Product records sent as JSON; stored as one file so they go through the same loader. */
  records?: Record<string, unknown>[]
  options: LoadOptions
  createdBy?: string
}

/** Check an upload and queue it. File contents are judged by the job (per file); names and archives here. */
export async function submitIngest(
  deps: Pick<IngestDeps, 'db' | 'config'>,
  input: SubmitIngestInput,
): Promise<IngestJobRow> {
  const files: JobFile[] = []
  const problems: FieldIssue[] = []
  for (const [i, file] of (input.files ?? []).entries()) {
    const name = normalizeUploadName(file.name)
    if (name === undefined) {
      problems.push({
        path: `files.${i}`,
        message: `"${file.name}" is not an acceptable file name (no absolute paths or ..)`,
      })
    } else if (looksLikeArchive(name, file.content)) {
      problems.push({
        path: `files.${i}`,
        message: `${name} is an archive; extract it and upload the files instead`,
      })
    } else {
      files.push({ name, content: file.content })
    }
  }
  if (problems.length > 0)
    throw new AppError('validation_failed', 'Some uploaded files cannot be accepted.', { errors: problems })
  if (input.records !== undefined) {
    files.push({ name: 'records.json', content: new TextEncoder().encode(JSON.stringify(input.records)) })
  }
  if (input.mode !== 'backfill' && files.length === 0) {
    throw new AppError(
      'bad_request',
      'Send files (multipart/form-data, field "files") or JSON {"records": [...]}.',
    )
  }
  if (input.mode === 'backfill' && files.length > 0) {
    throw new AppError('bad_request', 'A backfill takes no files: it embeds chunks already stored.')
  }
  return createIngestJob(deps, {
    collection: input.collection,
    mode: input.mode,
    files,
    options: input.options,
    createdBy: input.createdBy,
  })
}

export interface JobView {
  id: string
  collection: string
  status: JobStatus
  mode: string
  progress: (JobProgress & { etaSeconds: number | null }) | null
  errors: IngestIssue[]
  error: string | null
  attempts: number
  createdAt: string
  startedAt: string | null
  finishedAt: string | null
  /** A cancel was asked for; a running job stops at its next boundary. */
  cancelRequested: boolean
  /** When someone dismissed this finished job's problems (lists leave it out). */
  dismissedAt: string | null
  /** POST /v1/ingest-jobs/{id}/retry would queue it again with its stored files. */
  retryable: boolean
  retryOf: string | null
  retriedAs: string | null
}

/** The job as the API shows it; a job of a collection outside `viewer`'s allowlist is 404 to it, as if absent. */
export async function describeJob(
  db: Queryable,
  id: string,
  viewer: CollectionAllowlist = {},
): Promise<JobView> {
  const job = await findJob(db, id)
  const collection =
    job && job.collectionId !== null ? await findCollectionById(db, job.collectionId) : undefined
  if (job?.kind !== 'ingest' || !canUseCollection(viewer, collection?.name ?? '')) {
    throw new AppError('not_found', `No ingest job with id ${id}.`)
  }
  return jobView(job, collection!.name)
}

/** The API's view of an ingest job row of a known collection. */
export function jobView(job: IngestJobRow, collection: string): JobView {
  const progress = 'documents' in job.progress ? (job.progress as unknown as JobProgress) : null
  return {
    id: job.id,
    collection,
    status: job.status,
    // An ingest job always has a mode (a check constraint of ingest_jobs).
    mode: job.mode!,
    progress: progress
      ? { ...progress, etaSeconds: job.status === 'running' ? (estimateSecondsLeft(progress) ?? null) : null }
      : null,
    errors: job.errors as IngestIssue[],
    error: job.error,
    attempts: job.attempts,
    createdAt: job.createdAt.toISOString(),
    startedAt: job.startedAt?.toISOString() ?? null,
    finishedAt: job.finishedAt?.toISOString() ?? null,
    cancelRequested: job.cancelRequestedAt !== null,
    dismissedAt: job.errorsDismissedAt?.toISOString() ?? null,
    retryable:
      (job.status === 'failed' || job.status === 'cancelled') &&
      typeof job.options.retriedAs !== 'string' &&
      (job.filesPurgedAt === null || job.mode === 'backfill'),
    retryOf: typeof job.options.retryOf === 'string' ? job.options.retryOf : null,
    retriedAs: typeof job.options.retriedAs === 'string' ? job.options.retriedAs : null,
  }
}
