import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { createIngestJob } from '../../ingest/jobs/create-job.js'
import type { JobFile } from '../../ingest/loaders/load-files.js'
import type { LoadOptions } from '../../ingest/loaders/types.js'
import type { IngestDeps } from '../../ingest/pipeline/deps.js'
import { runJob } from '../../ingest/pipeline/run-job.js'
import { createCollection } from '../../src/collections/manage-collections.js'
import { loadConfig } from '../../src/config.js'
import type { CollectionRow } from '../../src/db/collections.js'
import { claimJob, findJob, type IngestJobRow, type JobMode } from '../../src/db/ingest-jobs.js'
import type { Database } from '../../src/db/pool.js'
import type { EmbedderFactory } from '../../src/embedding/embedder.js'
import { createOpenAIEmbedderFactory } from '../../src/embedding/openai-embedder.js'
import { createLogger } from '../../src/logger.js'

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures')

/** Ingestion deps against a test database; with a stub URL, a real OpenAIEmbeddings client talks to it. */
export function ingestDeps(
  db: Database,
  stubUrl: string | undefined,
  env: Record<string, string> = {},
): IngestDeps {
  const config = loadConfig({
    EMBEDDING_BATCH_SIZE: '8',
    EMBEDDING_CONCURRENCY: '2',
    EMBEDDING_MAX_RETRIES: '3',
    CHUNK_MAX_TOKENS: '200',
    CHUNK_OVERLAP_TOKENS: '20',
    ...(stubUrl ? { OPENAI_BASE_URL: stubUrl, OPENAI_API_KEY: 'test-key' } : {}),
    ...env,
  })
  const createEmbedder: EmbedderFactory = createOpenAIEmbedderFactory(config)
  return { db, config, createEmbedder, logger: createLogger('silent'), retryBaseMs: 10 }
}

export async function makeCollection(db: Database, name: string, dimensions = 64): Promise<CollectionRow> {
  return createCollection(db.pool, { name, embeddingModel: 'stub-embed', embeddingDimensions: dimensions })
}

/** Files under a folder, named by their path relative to it, in a stable order (as the CLI reads them). */
export function readFolder(dir: string): JobFile[] {
  const out: JobFile[] = []
  const walk = (current: string) => {
    for (const entry of readdirSync(current).sort()) {
      const path = join(current, entry)
      if (statSync(path).isDirectory()) walk(path)
      else out.push({ name: relative(dir, path).split('\\').join('/'), content: readFileSync(path) })
    }
  }
  walk(dir)
  return out
}

export function textFile(name: string, text: string): JobFile {
  return { name, content: new TextEncoder().encode(text) }
}

/** Create a job and run it to the end in this process; returns the finished job row. */
export async function ingestNow(
  deps: IngestDeps,
  collection: CollectionRow,
  files: JobFile[],
  options: { mode?: JobMode; load?: LoadOptions } = {},
): Promise<IngestJobRow> {
  const job = await createIngestJob(deps, {
    collection,
    mode: options.mode ?? 'upsert',
    files,
    options: options.load,
  })
  return runToEnd(deps, job.id)
}

export async function runToEnd(
  deps: IngestDeps,
  jobId: string,
  workerId = 'test-worker',
): Promise<IngestJobRow> {
  const claimed = await claimJob(deps.db.pool, workerId, 60_000, jobId)
  if (!claimed) throw new Error(`job ${jobId} could not be claimed`)
  await runJob(deps, claimed, workerId)
  return (await findJob(deps.db.pool, jobId))!
}

/** The stored chunk set of a collection, comparable across collections and runs. */
export async function chunkSet(db: Database, collectionId: number) {
  const { rows } = await db.pool.query<{
    sourceId: string
    ordinal: number
    headingPath: string
    contentHash: string
    embedding: string | null
  }>(
    `SELECT d.source_id AS "sourceId", c.ordinal, c.heading_path AS "headingPath", c.content_hash AS "contentHash",
       c.embedding::text AS embedding
     FROM chunks c JOIN documents d ON d.id = c.document_id
     WHERE c.collection_id = $1 ORDER BY d.source_id, c.ordinal`,
    [collectionId],
  )
  return rows
}
