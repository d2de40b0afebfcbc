import type pg from 'pg'
import { findCollectionById } from '../../src/db/collections.js'
import { deleteDocumentsNotIn } from '../../src/db/documents.js'
import {
  type FinishedStatus,
  finishJob,
  type IngestJobRow,
  readJobFiles,
  saveJobProgress,
} from '../../src/db/ingest-jobs.js'
import { isDatabaseUnavailable } from '../../src/db/pg-errors.js'
import { withTransaction } from '../../src/db/transaction.js'
import { dropVectorIndexForLoad } from '../../src/db/vector-index.js'
import { EmbeddingDimensionError, EmbeddingProviderError } from '../../src/embedding/openai-embedder.js'
import type { JobOutcome } from '../../src/jobs/job-handler.js'
import { observeJobFinished } from '../../src/observability/metrics.js'
import { loadFiles } from '../loaders/load-files.js'
import type { IngestIssue } from '../loaders/types.js'
import { backfillEmbeddings } from './backfill.js'
import type { IngestDeps } from './deps.js'
import { ingestDocuments } from './ingest-documents.js'
import { JobOptions } from './job-options.js'
import { type JobProgress, resumeProgress } from './progress.js'
import { restoreVectorIndex } from './vector-index.js'

/** The job was taken over by another worker (our lease ran out): stop without touching it further. */
class LeaseLostError extends Error {
  constructor() {
    super('The job lease was lost to another worker.')
    this.name = 'LeaseLostError'
  }
}

export type { JobOutcome }

/** How the job ended: every input loaded, some rejected, or nothing loaded at all. */
interface Ending {
  status: FinishedStatus
  error?: string
}

/**
 * Run one claimed job to the end. Safe to call again on a job another worker abandoned: the files
 * come from the database, loading is deterministic, and work resumes from the saved cursor.
 */
export async function runJob(
  deps: IngestDeps,
  job: IngestJobRow,
  workerId: string,
  options: { signal?: AbortSignal; onProgress?: (progress: JobProgress) => void } = {},
): Promise<JobOutcome> {
  const save = async (progress: JobProgress, client?: pg.PoolClient, errors?: IngestIssue[]) => {
    if (!(await saveJobProgress(client ?? deps.db.pool, job.id, workerId, progress, errors)))
      throw new LeaseLostError()
    options.onProgress?.(progress)
  }
  try {
    const ending = await execute(deps, job, save, options.signal)
    if (job.collectionId !== null) await restoreVectorIndex(deps, job.collectionId)
    if (!(await finishJob(deps.db.pool, job.id, workerId, ending))) return 'lost'
    observeJobFinished(deps.metrics, { kind: 'ingest', status: ending.status })
    return ending.status
  } catch (error) {
    if (error instanceof LeaseLostError) return 'lost'
    if (options.signal?.aborted) return 'stopped'
    // A lost connection or a restarting server is no fault of the job: it is retried, not failed.
    if (isDatabaseUnavailable(error)) {
      deps.logger.warn({ err: error, jobId: job.id }, 'ingest job interrupted: the database is unavailable')
      return 'interrupted'
    }
    const message = describeFailure(error)
    if (message === undefined)
      deps.logger.error({ err: error, jobId: job.id }, 'ingest job failed unexpectedly')
    const detail = message ?? 'The job failed unexpectedly; the worker log has the details.'
    if (job.collectionId !== null) await restoreVectorIndex(deps, job.collectionId)
    if (!(await finishJob(deps.db.pool, job.id, workerId, { status: 'failed', error: detail }))) return 'lost'
    observeJobFinished(deps.metrics, { kind: 'ingest', status: 'failed' })
    return 'failed'
  }
}

type Save = (progress: JobProgress, client?: pg.PoolClient, errors?: IngestIssue[]) => Promise<void>

async function execute(
  deps: IngestDeps,
  job: IngestJobRow,
  save: Save,
  signal?: AbortSignal,
): Promise<Ending> {
  const collection =
    job.collectionId === null ? undefined : await findCollectionById(deps.db.pool, job.collectionId)
  if (!collection) throw new JobInputError('The collection of this job no longer exists.')
  const embedder = deps.createEmbedder(collection.embeddingModel, collection.embeddingDimensions)

  if (job.mode === 'backfill') {
    if (!embedder) {
      throw new JobInputError(
        'No embedding provider is configured: set OPENAI_BASE_URL and/or OPENAI_API_KEY.',
      )
    }
    const progress = resumeProgress(job.progress, 0)
    await backfillEmbeddings(deps, { collection, embedder, progress, save: (p) => save(p), signal })
    progress.phase = 'done'
    await save(progress)
    return { status: 'succeeded' }
  }

  const parsed = JobOptions.safeParse(job.options)
  if (!parsed.success) throw new JobInputError('The job options are invalid.')
  const { maxTokens, overlapTokens, ...load } = parsed.data
  const files = await readJobFiles(deps.db.pool, job.id)
  const { documents, errors } = loadFiles(files, load)
  const progress = resumeProgress(job.progress, documents.length)
  progress.files.total = files.length
  progress.documents.total = documents.length
  progress.errors = errors.length
  await save(progress, undefined, errors)
  // A load that at least doubles the collection builds the vector index once at the end (see vector-index.ts).
  await dropVectorIndexForLoad(deps.db.pool, collection.id, documents.length - progress.cursor)
  const deletionDone = progress.phase === 'done'

  await ingestDocuments(deps, {
    collection,
    embedder,
    documents,
    load,
    chunking: { maxTokens, overlapTokens },
    progress,
    save: (p, client) => save(p, client),
    signal,
  })

  if (job.mode === 'sync' && !deletionDone) {
    progress.phase = 'deleting'
    if (errors.length > 0) {
      // A rejected file or row would look like "these documents were removed": deleting on the
      // strength of such a source is how a mistyped id column empties a catalog.
      const reason = `No documents were deleted: sync deletes only when every file and row loads, and ${describeRejected(errors)}; fix them and run again.`
      progress.sync = { deletion: 'skipped', reason }
      errors.push({ file: '(sync)', message: reason })
      progress.errors = errors.length
      await save(progress, undefined, errors)
    } else {
      const kinds = load.kind ? [load.kind] : [...new Set(documents.map((doc) => doc.kind))]
      await withTransaction(deps.db.pool, async (client) => {
        const deleted = await deleteDocumentsNotIn(
          client,
          collection.id,
          kinds,
          documents.map((doc) => doc.sourceId),
        )
        progress.documents.deleted += deleted
        progress.sync = { deletion: 'done' }
        progress.phase = 'done'
        await save(progress, client)
      })
    }
  }
  progress.phase = 'done'
  await save(progress)
  return ending(documents.length, errors)
}

/** Nothing loaded and something rejected is a failure; some rejected is a success with errors. */
function ending(loaded: number, errors: IngestIssue[]): Ending {
  const rejected = errors.filter((issue) => issue.file !== '(sync)')
  if (rejected.length === 0) return { status: 'succeeded' }
  if (loaded > 0) return { status: 'succeeded_with_errors' }
  // The id hint (one issue per file whose rows all lack an id) says best what to change.
  const hint = rejected.find((issue) => issue.message.startsWith('no row has a value in the id column'))
  const detail = hint ? ` ${hint.file}: ${hint.message}.` : ' See the errors for each.'
  return {
    status: 'failed',
    error: `Nothing was loaded: ${describeRejected(rejected)}.${detail}`,
  }
}

/** "1 file was rejected", "2 rows were rejected", "1 file and 3 rows were rejected". */
function describeRejected(errors: IngestIssue[]): string {
  const files = errors.filter((issue) => issue.row === undefined && issue.file !== '(sync)').length
  const rows = errors.filter((issue) => issue.row !== undefined).length
  const parts = [
    files > 0 ? `${files} file${files === 1 ? '' : 's'}` : '',
    rows > 0 ? `${rows} row${rows === 1 ? '' : 's'}` : '',
  ].filter(Boolean)
  return `${parts.join(' and ')} ${files + rows === 1 ? 'was' : 'were'} rejected`
}

/** A failure the admin can act on, shown as the job's error. */
class JobInputError extends Error {}

function describeFailure(error: unknown): string | undefined {
  if (error instanceof JobInputError) return error.message
  if (error instanceof EmbeddingDimensionError) return error.message
  if (error instanceof EmbeddingProviderError) return `Embedding failed: ${error.message}`
  return undefined
}
