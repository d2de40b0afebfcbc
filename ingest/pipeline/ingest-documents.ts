import type pg from 'pg'
import { type ChunkInsert, findEmbeddedHashes, replaceChunks } from '../../src/db/chunks.js'
import type { CollectionRow } from '../../src/db/collections.js'
import { findDocumentHashes, upsertDocuments } from '../../src/db/documents.js'
import { withTransaction } from '../../src/db/transaction.js'
import type { Embedder } from '../../src/embedding/embedder.js'
import { observeEmbedding } from '../../src/observability/metrics.js'
import type { ChunkDraft, ChunkOptions } from '../chunking/chunk.js'
import { chunkDocument, documentHash } from '../chunking/chunk-document.js'
import type { LoadedDocument, LoadOptions } from '../loaders/types.js'
import type { IngestDeps } from './deps.js'
import { embedTexts } from './embed-texts.js'
import type { JobProgress } from './progress.js'

// A group of documents (INGEST_GROUP_DOCUMENTS, and about this many chunks at most) shares one hash
// lookup, one embedding pass and one swap transaction.
const GROUP_CHUNKS = 512

export interface IngestRun {
  collection: CollectionRow
  embedder: Embedder | undefined
  documents: LoadedDocument[]
  load: LoadOptions
  chunking: ChunkOptions
  progress: JobProgress
  /**
   * Persist progress; given the transaction client when called inside a swap. Must throw when the
   * job is no longer ours, so the swap rolls back.
   */
  save(progress: JobProgress, client?: pg.PoolClient): Promise<void>
  signal?: AbortSignal
}

/** A group read, diffed, chunked and embedded, ready to be swapped in. */
interface PreparedGroup {
  end: number
  unchanged: number
  changed: { doc: LoadedDocument; hash: string; chunks: ChunkDraft[] }[]
  fresh: Map<string, number[]>
}

/**
 * Bring the collection in line with `documents` from `progress.cursor` on. Unchanged documents are
 * skipped; changed ones are re-chunked, only texts without a stored embedding from this model are
 * embedded (outside any transaction), then each group of documents is swapped in one transaction
 * that also moves the cursor, so a resumed job never redoes or double-counts finished work.
 *
 * While one group is being written, the next one is diffed, chunked and embedded, so the database
 * and this process work at the same time. Only preparation runs ahead, one group at most: groups are
 * still written one after another, in order, and the prepared group is dropped if a write fails.
 */
export async function ingestDocuments(deps: IngestDeps, run: IngestRun): Promise<void> {
  const { progress, documents } = run
  progress.phase = 'documents'
  // Stops the group running ahead when the job ends early, so it makes no calls after we return.
  const ahead = new AbortController()
  const signal = run.signal ? AbortSignal.any([run.signal, ahead.signal]) : ahead.signal
  let next: Promise<PreparedGroup> | undefined
  try {
    while (progress.cursor < documents.length) {
      run.signal?.throwIfAborted()
      const group = await (next ?? prepareGroup(deps, run, progress.cursor, new Set(), signal))
      next = undefined
      const writing = writeGroup(deps, run, group)
      if (group.end < documents.length) {
        // The group being written will have stored these texts by the time the next one is written.
        next = prepareGroup(deps, run, group.end, new Set(group.fresh.keys()), signal)
        // Its failure is seen when it is awaited; until then it must not count as unhandled.
        next.catch(() => {})
      }
      await writing
    }
  } finally {
    if (next) {
      ahead.abort(new Error('ingestion stopped'))
      await next.catch(() => {})
    }
  }
}

async function prepareGroup(
  deps: IngestDeps,
  run: IngestRun,
  start: number,
  beingStored: Set<string>,
  signal: AbortSignal,
): Promise<PreparedGroup> {
  const group = nextGroup(run.documents, start, deps.config.INGEST_GROUP_DOCUMENTS)
  const hashes = group.map((doc) => documentHash(doc, run.load, run.chunking))
  const stored = await findDocumentHashes(
    deps.db.pool,
    run.collection.id,
    group.map((doc) => doc.sourceId),
  )
  signal.throwIfAborted()
  const prepared: PreparedGroup = { end: start + group.length, unchanged: 0, changed: [], fresh: new Map() }
  group.forEach((doc, i) => {
    if (stored.get(doc.sourceId) === hashes[i]) prepared.unchanged++
    else prepared.changed.push({ doc, hash: hashes[i]!, chunks: chunkDocument(doc, run.chunking) })
  })
  prepared.fresh = await embedMissing(
    deps,
    run,
    prepared.changed.flatMap((c) => c.chunks),
    beingStored,
    signal,
  )
  return prepared
}

/** Swap a prepared group in and move the cursor past it, in one transaction. */
async function writeGroup(deps: IngestDeps, run: IngestRun, group: PreparedGroup): Promise<void> {
  const { progress, documents } = run
  const advance = (p: JobProgress) => {
    p.documents.unchanged += group.unchanged
    p.cursor = group.end
    p.documents.done = group.end
    p.files.done = group.end < documents.length ? documents[group.end]!.fileIndex : p.files.total
  }
  if (group.changed.length === 0) {
    advance(progress)
    await run.save(progress)
    return
  }
  const counts = await withTransaction(deps.db.pool, async (client) => {
    const upserted = await upsertDocuments(
      client,
      run.collection.id,
      group.changed.map(({ doc, hash }) => ({
        sourceId: doc.sourceId,
        kind: doc.kind,
        title: doc.title,
        contentHash: hash,
        metadata: doc.metadata,
      })),
    )
    const ids = new Map(upserted.map((row) => [row.sourceId, row.id]))
    const rows: ChunkInsert[] = group.changed.flatMap(({ doc, chunks }) =>
      chunks.map((chunk) => ({
        documentId: ids.get(doc.sourceId)!,
        ordinal: chunk.ordinal,
        headingPath: chunk.headingPath,
        text: chunk.text,
        tokenCount: chunk.tokenCount,
        contentHash: chunk.contentHash,
        embedding: group.fresh.get(chunk.contentHash) ?? null,
      })),
    )
    const result = await replaceChunks(
      client,
      {
        collectionId: run.collection.id,
        textSearchConfig: run.collection.textSearchConfig,
        embeddingModel: run.embedder?.model ?? null,
      },
      // New documents have no chunks to replace.
      upserted.filter((row) => !row.inserted).map((row) => row.id),
      rows,
    )
    const added = upserted.filter((row) => row.inserted).length
    const embedded = rows.filter((row) => row.embedding !== null).length
    // Counted on a copy: if the transaction rolls back, the saved counters must not have moved.
    const next = structuredClone(progress)
    next.documents.added += added
    next.documents.updated += upserted.length - added
    next.chunks.embedded += embedded
    next.chunks.reused += result.reused
    next.chunks.pending += result.pending
    advance(next)
    await run.save(next, client)
    Object.assign(progress, next)
    return { embedded, reused: result.reused }
  })
  observeEmbedding(deps.metrics, counts)
}

function nextGroup(documents: LoadedDocument[], start: number, maxDocuments: number): LoadedDocument[] {
  const group: LoadedDocument[] = []
  let roughChunks = 0
  for (let i = start; i < documents.length && group.length < maxDocuments; i++) {
    const doc = documents[i]!
    // ~4 characters a token; a rough bound is enough to keep one group's embedding pass modest.
    roughChunks += Math.max(1, Math.ceil(doc.body.length / 1600))
    if (group.length > 0 && roughChunks > GROUP_CHUNKS) break
    group.push(doc)
  }
  return group
}

/**
 * Embed the chunk texts that have no stored embedding from this model; one request per unique text.
 * `beingStored` are texts the group written before this one is storing right now: the swap copies
 * their embeddings once that group has committed, so they are not embedded twice.
 */
async function embedMissing(
  deps: IngestDeps,
  run: IngestRun,
  chunks: ChunkDraft[],
  beingStored: Set<string>,
  signal: AbortSignal,
): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>()
  if (!run.embedder || chunks.length === 0) return out
  const unique = new Map(chunks.map((chunk) => [chunk.contentHash, chunk.embeddingText]))
  const stored = await findEmbeddedHashes(deps.db.pool, run.collection.id, run.embedder.model, [
    ...unique.keys(),
  ])
  const missing = [...unique].filter(([hash]) => !stored.has(hash) && !beingStored.has(hash))
  if (missing.length === 0) return out
  const vectors = await embedTexts(
    run.embedder,
    missing.map(([, text]) => text),
    {
      batchSize: deps.config.EMBEDDING_BATCH_SIZE,
      concurrency: deps.config.EMBEDDING_CONCURRENCY,
      maxRetries: deps.config.EMBEDDING_MAX_RETRIES,
      retryBaseMs: deps.retryBaseMs,
      signal,
    },
  )
  missing.forEach(([hash], i) => {
    out.set(hash, vectors[i]!)
  })
  return out
}
