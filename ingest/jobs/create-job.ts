import type { CollectionRow } from '../../src/db/collections.js'
import { type IngestJobRow, insertJob, insertJobFile, type JobMode } from '../../src/db/ingest-jobs.js'
import { withTransaction } from '../../src/db/transaction.js'
import type { JobFile } from '../loaders/load-files.js'
import type { LoadOptions } from '../loaders/types.js'
import type { IngestDeps } from '../pipeline/deps.js'
import { JobOptions } from '../pipeline/job-options.js'

export interface CreateJobInput {
  collection: CollectionRow
  mode: JobMode
  files: JobFile[]
  options?: LoadOptions & { maxTokens?: number; overlapTokens?: number }
  createdBy?: string
}

/**
 * Queue a job with its files stored beside it, in one transaction: any worker can run it, and a
 * reclaimed job reads exactly the bytes the first attempt read. Chunk sizes are fixed here.
 */
export async function createIngestJob(
  deps: Pick<IngestDeps, 'db' | 'config'>,
  input: CreateJobInput,
): Promise<IngestJobRow> {
  const options = JobOptions.parse({
    ...input.options,
    maxTokens: input.options?.maxTokens ?? deps.config.CHUNK_MAX_TOKENS,
    overlapTokens: input.options?.overlapTokens ?? deps.config.CHUNK_OVERLAP_TOKENS,
  })
  return withTransaction(deps.db.pool, async (client) => {
    const job = await insertJob(client, {
      collectionId: input.collection.id,
      mode: input.mode,
      options,
      createdBy: input.createdBy ?? null,
    })
    for (const [ordinal, file] of input.files.entries()) {
      await insertJobFile(client, job.id, { ordinal, name: file.name, content: file.content })
    }
    return job
  })
}
