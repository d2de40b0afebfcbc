/**
 * npm run ingest -- <dir|file…> --collection NAME [--create] [--sync] [--kind guideline|product]
 *                   [--id-column sku] [--title-column name] [--text-columns a,b] [--enqueue]
 * npm run ingest -- --backfill --collection NAME
 */
import { parseArgs } from 'node:util'
import { runCli, UsageError } from '../src/cli/run-cli.js'
import { createCollection } from '../src/collections/manage-collections.js'
import { loadConfig } from '../src/config.js'
import { findCollectionByName } from '../src/db/collections.js'
import { findJob } from '../src/db/ingest-jobs.js'
import { openMigratedDatabase } from '../src/db/migrate.js'
import { createOpenAIEmbedderFactory } from '../src/embedding/openai-embedder.js'
import { createLogger } from '../src/logger.js'
import { createProgressReporter, formatSummary } from './cli/progress-report.js'
import { readSources } from './cli/read-sources.js'
import { createIngestJob } from './jobs/create-job.js'
import { startWorker } from './jobs/worker.js'
import type { IngestIssue } from './loaders/types.js'
import type { IngestDeps } from './pipeline/deps.js'
import { freshProgress, type JobProgress } from './pipeline/progress.js'

const USAGE = `Usage:
  npm run ingest -- <dir|file…> --collection NAME [--create] [--sync] [--kind guideline|product]
                    [--id-column COLUMN] [--title-column COLUMN] [--text-columns A,B] [--enqueue]
  npm run ingest -- --backfill --collection NAME

  --create        create the collection if it does not exist (EMBEDDING_MODEL, EMBEDDING_DIMENSIONS)
  --sync          also delete documents that are no longer in the given files
  --enqueue       only queue the job for the worker fleet (needs DATABASE_URL)
  --backfill      embed chunks stored without an embedding
Exit status: 0 done, 1 job failed, 3 done but some files or rows had errors.`

runCli(async () => {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      collection: { type: 'string', short: 'c' },
      create: { type: 'boolean' },
      sync: { type: 'boolean' },
      kind: { type: 'string' },
      'id-column': { type: 'string' },
      'title-column': { type: 'string' },
      'text-columns': { type: 'string' },
      enqueue: { type: 'boolean' },
      backfill: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    return
  }
  if (!values.collection) throw new UsageError(`--collection is required\n\n${USAGE}`)
  if (values.kind !== undefined && values.kind !== 'guideline' && values.kind !== 'product') {
    throw new UsageError('--kind must be guideline or product')
  }
  if (values.backfill && positionals.length > 0) throw new UsageError('--backfill takes no files')
  if (!values.backfill && positionals.length === 0)
    throw new UsageError(`Name at least one file or folder\n\n${USAGE}`)
  const config = loadConfig()
  if (values.enqueue && !config.DATABASE_URL) {
    throw new UsageError(
      '--enqueue needs DATABASE_URL: the embedded database is only open to one process at a time',
    )
  }
  const files = values.backfill ? [] : readSources(positionals)
  if (!values.backfill && files.length === 0) throw new UsageError('The given folders hold no files')

  const logger = createLogger(config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL)
  const { db } = await openMigratedDatabase(config, logger)
  try {
    const deps: IngestDeps = { db, config, createEmbedder: createOpenAIEmbedderFactory(config), logger }
    let collection = await findCollectionByName(db.pool, values.collection)
    if (!collection) {
      if (!values.create) {
        throw new UsageError(`No collection named "${values.collection}"; add --create to create it`)
      }
      collection = await createCollection(db.pool, {
        name: values.collection,
        embeddingModel: config.EMBEDDING_MODEL,
        embeddingDimensions: config.EMBEDDING_DIMENSIONS,
      })
      process.stderr.write(
        `Created collection ${collection.name} (${collection.embeddingModel}, ${collection.embeddingDimensions} dimensions)\n`,
      )
    }
    if (!deps.createEmbedder(collection.embeddingModel, collection.embeddingDimensions)) {
      if (values.backfill)
        throw new UsageError('--backfill needs a model provider: set OPENAI_BASE_URL and/or OPENAI_API_KEY')
      process.stderr.write('No model provider configured: chunks are stored for full-text search only.\n')
    }
    const job = await createIngestJob(deps, {
      collection,
      mode: values.backfill ? 'backfill' : values.sync ? 'sync' : 'upsert',
      files,
      options: {
        kind: values.kind as 'guideline' | 'product' | undefined,
        idColumn: values['id-column'],
        titleColumn: values['title-column'],
        textColumns: values['text-columns']
          ?.split(',')
          .map((c) => c.trim())
          .filter(Boolean),
      },
    })
    if (values.enqueue) {
      process.stdout.write(
        `Queued job ${job.id} (${files.length} files); follow it at GET /v1/ingest-jobs/${job.id}\n`,
      )
      return
    }
    process.stderr.write(`Job ${job.id}: ${files.length} file(s) into ${collection.name}\n`)
    const started = Date.now()
    const reporter = createProgressReporter()
    const worker = startWorker({
      deps,
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
    if (finished.status === 'failed') process.exitCode = 1
    else if (finished.status !== 'succeeded') {
      process.stderr.write(`Stopped; the job is queued again and resumes where it left off (${job.id}).\n`)
      process.exitCode = 1
    } else if (errors.length > 0) process.exitCode = 3
  } finally {
    await db.close()
  }
})
