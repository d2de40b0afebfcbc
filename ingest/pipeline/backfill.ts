import { copyStoredEmbeddings, listUnembeddedChunks, setChunkEmbeddings } from '../../src/db/chunks.js'
import type { CollectionRow } from '../../src/db/collections.js'
import type { Embedder } from '../../src/embedding/embedder.js'
import { observeEmbedding } from '../../src/observability/metrics.js'
import { embeddingTextOf } from '../chunking/chunk.js'
import type { IngestDeps } from './deps.js'
import { embedTexts } from './embed-texts.js'
import type { JobProgress } from './progress.js'

/**
 * Give every chunk stored without an embedding one: first by copying the embedding of an identical
 * text, then from the provider in pages. Each page is its own write, so a reclaimed backfill simply
 * continues with what is still missing.
 */
export async function backfillEmbeddings(
  deps: IngestDeps,
  run: {
    collection: CollectionRow
    embedder: Embedder
    progress: JobProgress
    save(progress: JobProgress): Promise<void>
    signal?: AbortSignal
  },
): Promise<void> {
  const { progress, embedder, collection } = run
  progress.phase = 'backfill'
  const copied = await copyStoredEmbeddings(deps.db.pool, collection.id, embedder.model)
  progress.chunks.reused += copied
  observeEmbedding(deps.metrics, { embedded: 0, reused: copied })
  await run.save(progress)
  const page = deps.config.EMBEDDING_BATCH_SIZE * deps.config.EMBEDDING_CONCURRENCY
  let afterId = 0
  for (;;) {
    run.signal?.throwIfAborted()
    const chunks = await listUnembeddedChunks(deps.db.pool, collection.id, afterId, page)
    if (chunks.length === 0) break
    afterId = chunks[chunks.length - 1]!.id
    const vectors = await embedTexts(
      embedder,
      chunks.map((chunk) => embeddingTextOf(chunk.headingPath, chunk.text)),
      {
        batchSize: deps.config.EMBEDDING_BATCH_SIZE,
        concurrency: deps.config.EMBEDDING_CONCURRENCY,
        maxRetries: deps.config.EMBEDDING_MAX_RETRIES,
        retryBaseMs: deps.retryBaseMs,
        signal: run.signal,
      },
    )
    const updated = await setChunkEmbeddings(
      deps.db.pool,
      embedder.model,
      chunks.map((chunk, i) => ({ id: chunk.id, embedding: vectors[i]! })),
    )
    progress.chunks.embedded += updated
    observeEmbedding(deps.metrics, { embedded: updated, reused: 0 })
    await run.save(progress)
  }
}
