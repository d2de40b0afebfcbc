import { createIngestJob } from '../../ingest/jobs/create-job.js'
import { startWorker } from '../../ingest/jobs/worker.js'
import type { IngestIssue } from '../../ingest/loaders/types.js'
import { freshProgress, type JobProgress } from '../../ingest/pipeline/progress.js'
import { createCollection } from '../collections/manage-collections.js'
import type { Config } from '../config.js'
import { findCollectionByName } from '../db/collections.js'
import { findJob } from '../db/ingest-jobs.js'
import { withServices } from '../services.js'
import { createProgressReporter, formatSummary } from './ingest-progress.js'
import { readSources } from './read-sources.js'
import { EXIT, parseCommandArgs, splitList, UsageError } from './run-command.js'

export const usage = `Usage:
  onbrand ingest <dir|file…> --collection NAME [--create] [--sync] [--kind guideline|product]
                 [--id-column COLUMN] [--title-column COLUMN] [--text-columns A,B] [--enqueue]
  onbrand ingest --backfill --collection NAME

  --create        create the collection if it does not exist (EMBEDDING_MODEL, EMBEDDING_DIMENSIONS)
  --sync          also delete documents that are no longer in the given files
  --enqueue       only queue the job for the worker fleet (needs DATABASE_URL)
  --backfill      embed chunks stored without an embedding
Exit status: 0 done, 1 the job failed (nothing loaded) or was stopped or cancelled, 3 done but some files or
rows were rejected (status succeeded_with_errors).`

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(usage, args, {
    collection: { type: 'string', short: 'c' },
    create: { type: 'boolean' },
    sync: { type: 'boolean' },
    kind: { type: 'string' },
    'id-column': { type: 'string' },
    'title-column': { type: 'string' },
    'text-columns': { type: 'string' },
    enqueue: { type: 'boolean' },
    backfill: { type: 'boolean' },
  })
  const name = values.collection
  if (!name) throw new UsageError(`--collection is required\n\n${usage}`)
  const kind = values.kind
  if (kind !== undefined && kind !== 'guideline' && kind !== 'product') {
    throw new UsageError('--kind must be guideline or product')
  }
  if (values.backfill && positionals.length > 0) throw new UsageError('--backfill takes no files')
  if (!values.backfill && positionals.length === 0) {
    throw new UsageError(`Name at least one file or folder\n\n${usage}`)
  }
  const files = values.backfill ? [] : readSources(positionals)
  if (!values.backfill && files.length === 0) throw new UsageError('The given folders hold no files')

  const beforeOpen = (config: Config) => {
    if (values.enqueue && !config.DATABASE_URL) {
      throw new UsageError(
        '--enqueue needs DATABASE_URL: the embedded database is only open to one process at a time',
      )
    }
  }
  return withServices({ quiet: true, beforeOpen }, async (services) => {
    const { db, config } = services
    let collection = await findCollectionByName(db.pool, name)
    if (!collection) {
      if (!values.create) throw new UsageError(`No collection named "${name}"; add --create to create it`)
      collection = await createCollection(db.pool, {
        name,
        embeddingModel: config.EMBEDDING_MODEL,
        embeddingDimensions: config.EMBEDDING_DIMENSIONS,
      })
      process.stderr.write(
        `Created collection ${collection.name} (${collection.embeddingModel}, ${collection.embeddingDimensions} dimensions)\n`,
      )
    }
    if (!services.embedders(collection.embeddingModel, collection.embeddingDimensions)) {
      if (values.backfill) {
        throw new UsageError('--backfill needs a model provider: set OPENAI_BASE_URL and/or OPENAI_API_KEY')
      }
      process.stderr.write('No model provider configured: chunks are stored for full-text search only.\n')
    }
    const job = await createIngestJob(services.ingest, {
      collection,
      mode: values.backfill ? 'backfill' : values.sync ? 'sync' : 'upsert',
      files,
      options: {
        kind,
        idColumn: values['id-column'],
        titleColumn: values['title-column'],
        textColumns: splitList(values['text-columns']),
      },
    })
    if (values.enqueue) {
      process.stdout.write(
        `Queued job ${job.id} (${files.length} files); follow it at GET /v1/ingest-jobs/${job.id}\n`,
      )
      return EXIT.ok
    }
    process.stderr.write(
      values.backfill
        ? `Job ${job.id}: embedding the chunks of ${collection.name} stored without an embedding\n`
        : `Job ${job.id}: ${files.length} file(s) into ${collection.name}\n`,
    )
    const started = Date.now()
    const reporter = createProgressReporter(process.stderr, { backfill: values.backfill === true })
    const worker = startWorker({
      deps: services.ingest,
      onlyJobId: job.id,
      autoBackfill: false,
      pollIntervalMs: 200,
      onProgress: (_job, progress) => reporter.update(progress),
    })
    const stop = () => void worker.stop()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    await worker.done
    reporter.end()
    const finished = (await findJob(db.pool, job.id))!
    const progress = (Object.keys(finished.progress).length > 0
      ? finished.progress
      : freshProgress()) as unknown as JobProgress
    const errors = finished.errors as IngestIssue[]
    process.stdout.write(
      formatSummary({
        collection: collection.name,
        status: finished.status,
        error: finished.error,
        progress,
        errors,
        seconds: (Date.now() - started) / 1000,
      }),
    )
    switch (finished.status) {
      case 'succeeded':
        return EXIT.ok
      case 'succeeded_with_errors':
        return EXIT.rejected
      case 'failed':
      case 'cancelled':
        return EXIT.failed
      default:
        process.stderr.write(`Stopped; the job is queued again and resumes where it left off (${job.id}).\n`)
        return EXIT.failed
    }
  })
}
