import { createIngestJob } from '../../ingest/jobs/create-job.js'
import type { IngestDeps } from '../../ingest/pipeline/deps.js'
import { runJob } from '../../ingest/pipeline/run-job.js'
import { createCollection } from '../../src/collections/manage-collections.js'
import { type Config, loadConfig } from '../../src/config.js'
import { type CollectionRow, deleteCollection } from '../../src/db/collections.js'
import { claimJob, findJob } from '../../src/db/ingest-jobs.js'
import type { Embedder, EmbedderFactory } from '../../src/embedding/embedder.js'
import { createOpenAIEmbedderFactory } from '../../src/embedding/openai-embedder.js'
import { createLogger } from '../../src/logger.js'
import type { BenchTarget } from './bench-target.js'
import type { CorpusSource } from './ingest-corpus.js'
import { installStatementTimers, StatementTimers } from './ingest-profile.js'

export const DIMS = 256
export const MODEL = 'bench-embed'

export interface IngestSession {
  deps: IngestDeps
  config: Config
  timers: StatementTimers
  /** Embedding requests made (one embedDocuments call is one HTTP request here) and texts sent. */
  counter: { calls: number; texts: number }
}

/** Counts what the pipeline asks of the provider. */
function countingFactory(inner: EmbedderFactory, counter: { calls: number; texts: number }): EmbedderFactory {
  return (model, dims) => {
    const embedder = inner(model, dims)
    if (!embedder) return undefined
    const counted: Embedder = {
      model: embedder.model,
      dimensions: embedder.dimensions,
      embedQuery: (text) => embedder.embedQuery(text),
      embedDocuments: (texts) => {
        counter.calls++
        counter.texts += texts.length
        return embedder.embedDocuments(texts)
      },
    }
    return counted
  }
}

/** Ingest deps over the target's database, with every statement of this process timed; `env` overrides config. */
export function ingestSession(
  target: Pick<BenchTarget, 'db'>,
  stubUrl: string,
  env: Record<string, string> = {},
): IngestSession {
  const config = loadConfig({
    OPENAI_BASE_URL: stubUrl,
    OPENAI_API_KEY: 'bench',
    LOG_LEVEL: 'silent',
    ...env,
  })
  const timers = new StatementTimers()
  installStatementTimers(timers)
  const counter = { calls: 0, texts: 0 }
  const deps: IngestDeps = {
    db: target.db,
    config,
    createEmbedder: countingFactory(createOpenAIEmbedderFactory(config), counter),
    logger: createLogger('silent'),
  }
  return { deps, config, timers, counter }
}

export async function freshCollection(target: BenchTarget, name: string): Promise<CollectionRow> {
  return createCollection(target.db.pool, { name, embeddingModel: MODEL, embeddingDimensions: DIMS })
}

/** Drop a measured collection and vacuum, so the next rep starts from the same table state. */
export async function dropCollection(target: BenchTarget, collection: CollectionRow): Promise<void> {
  await deleteCollection(target.db.pool, collection.id)
  await target.db.pool.query('VACUUM ANALYZE chunks, documents, ingest_jobs, ingest_job_files')
}

/**
 * One ingest job per source, run to the end by this process the way a worker runs a claimed job:
 * storing the files with the job, reading them back, loading, chunking, diffing, embedding, swapping.
 */
export async function ingestAll(
  session: IngestSession,
  collection: CollectionRow,
  sources: CorpusSource[],
): Promise<{ seconds: number; errors: number }> {
  const { deps } = session
  const started = performance.now()
  let errors = 0
  for (const source of sources) {
    const job = await createIngestJob(deps, {
      collection,
      mode: 'upsert',
      files: source.files,
      options: source.load,
    })
    const claimed = await claimJob(deps.db.pool, 'bench', 600_000, job.id)
    const outcome = await runJob(deps, claimed!, 'bench')
    const finished = await findJob(deps.db.pool, job.id)
    if (outcome !== 'succeeded' && outcome !== 'succeeded_with_errors')
      throw new Error(`ingest ended ${outcome}: ${finished?.error}`)
    errors += finished?.errors.length ?? 0
  }
  return { seconds: (performance.now() - started) / 1000, errors }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}
