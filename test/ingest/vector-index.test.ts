import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createIngestJob } from '../../ingest/jobs/create-job.js'
import type { JobFile } from '../../ingest/loaders/load-files.js'
import type { IngestDeps } from '../../ingest/pipeline/deps.js'
import { runJob } from '../../ingest/pipeline/run-job.js'
import { findSearchableCollection } from '../../src/db/chunk-search.js'
import { type CollectionRow, hnswIndexName } from '../../src/db/collections.js'
import { claimJob, releaseJob } from '../../src/db/ingest-jobs.js'
import type { Database } from '../../src/db/pool.js'
import { ensureVectorIndex, type VectorIndexState, vectorIndexState } from '../../src/db/vector-index.js'
import { searchChunks } from '../../src/retrieval/search.js'
import { deterministicEmbedding, type OpenAIStub, startOpenAIStub } from '../support/openai-stub.js'
import { createTestDatabase } from '../support/test-db.js'
import {
  chunkSet,
  FIXTURES,
  ingestDeps,
  ingestNow,
  makeCollection,
  readFolder,
  runToEnd,
} from './ingest-harness.js'

const DIMS = 64
let db: Database
let stub: OpenAIStub

beforeAll(async () => {
  db = await createTestDatabase()
  stub = await startOpenAIStub({ embeddingDimensions: DIMS })
})
afterAll(async () => {
  await stub.close()
  await db.close()
})
beforeEach(() => stub.reset())

const guidelines = () => readFolder(join(FIXTURES, 'guidelines'))
const products = () => readFolder(join(FIXTURES, 'products'))
// Small groups, so a job has many transactions to be interrupted between.
const smallGroups = () => ingestDeps(db, stub.url, { INGEST_GROUP_DOCUMENTS: '2' })

/** The index's relation id: a rebuilt index is a new relation. */
async function indexOid(collectionId: number): Promise<number | undefined> {
  const { rows } = await db.pool.query<{ oid: number }>(
    'SELECT oid::int AS oid FROM pg_class WHERE relname = $1',
    [hnswIndexName(collectionId)],
  )
  return rows[0]?.oid
}

/**
 * Run a job to the end, looking at the index after each saved group. The look is queued, not awaited,
 * inside the save: on PGlite it runs once the group's transaction lets go of the one connection.
 */
async function ingestWatchingIndex(deps: IngestDeps, collection: CollectionRow, files: JobFile[]) {
  const job = await createIngestJob(deps, { collection, mode: 'upsert', files })
  const claimed = (await claimJob(db.pool, 'watcher', 60_000, job.id))!
  const looks: Promise<VectorIndexState>[] = []
  const outcome = await runJob(deps, claimed, 'watcher', {
    onProgress: (progress) => {
      if (progress.phase === 'documents' && progress.cursor > 0)
        looks.push(vectorIndexState(db.pool, collection.id))
    },
  })
  return { outcome, during: [...new Set(await Promise.all(looks))] }
}

/** The vector arm's top `k` for a query, as retrieval runs it, and the exact top `k` by brute force. */
async function nearest(collection: CollectionRow, query: string, k = 5) {
  const target = (await findSearchableCollection(db.pool, collection.name))!
  const vector = deterministicEmbedding(query, DIMS)
  const rows = await searchChunks(db.pool, target, {
    query,
    syntax: 'words',
    relaxWhenEmpty: false,
    bm25: { k1: 0.9, b: 0.4 },
    lexicalWeight: 0.8,
    queryVector: vector,
    candidates: k,
    limit: 2 * k,
    efSearch: 100,
    maxScanTuples: 20_000,
    lexicalMaxScored: null,
    iterativeScan: 'relaxed_order',
  })
  const searched = rows
    .filter((row) => row.vectorRank !== null)
    .sort((a, b) => a.vectorRank! - b.vectorRank!)
    .map((row) => row.id)
  const { rows: exact } = await db.pool.query<{ id: number }>(
    `SELECT id FROM chunks WHERE collection_id = $1 AND embedding IS NOT NULL
     ORDER BY embedding::vector(${DIMS}) <=> $2::vector(${DIMS}), id LIMIT $3`,
    [collection.id, `[${vector.join(',')}]`, k],
  )
  return { searched, exact: exact.map((row) => row.id) }
}

// Whole-corpus ingests, several per test, on a machine the suite shares with others.
describe('the vector index around a first load', { timeout: 120_000 }, () => {
  it('is gone during the first load into an empty collection and built anew at its end', async () => {
    const collection = await makeCollection(db, 'first-load', DIMS)
    expect(await vectorIndexState(db.pool, collection.id)).toBe('valid')
    const before = await indexOid(collection.id)
    const { outcome, during } = await ingestWatchingIndex(smallGroups(), collection, [
      ...guidelines(),
      ...products(),
    ])
    expect(outcome).toBe('succeeded')
    expect(during).toEqual(['missing'])
    expect(await vectorIndexState(db.pool, collection.id)).toBe('valid')
    expect(await indexOid(collection.id)).not.toBe(before)
    const { rows } = await db.pool.query<{ indexdef: string }>(
      'SELECT indexdef FROM pg_indexes WHERE indexname = $1',
      [hnswIndexName(collection.id)],
    )
    expect(rows[0]!.indexdef).toMatch(
      new RegExp(`hnsw .*vector\\(${DIMS}\\).*WHERE \\(collection_id = ${collection.id}\\)`, 'i'),
    )
    const { searched, exact } = await nearest(collection, 'active voice in plain English')
    expect(searched).toEqual(exact)
  })

  it('is kept, and kept up row by row, when the collection holds more chunks than the load brings documents', async () => {
    const collection = await makeCollection(db, 'second-load', DIMS)
    const [bags, watches] = [
      products().filter((f) => f.name.endsWith('.csv')),
      products().filter((f) => f.name.endsWith('.json')),
    ]
    await ingestNow(ingestDeps(db, stub.url), collection, [...guidelines(), ...bags])
    const before = await indexOid(collection.id)
    const stored = (await chunkSet(db, collection.id)).length
    const { outcome, during } = await ingestWatchingIndex(smallGroups(), collection, watches)
    expect(outcome).toBe('succeeded')
    const added = (await chunkSet(db, collection.id)).length - stored
    expect(added).toBeGreaterThan(0)
    expect(added).toBeLessThan(stored)
    expect(during).toEqual(['valid'])
    expect(await indexOid(collection.id)).toBe(before)
    const { searched, exact } = await nearest(collection, 'stainless steel watch')
    expect(searched).toEqual(exact)
  })

  it('is dropped and built anew when the load brings at least as many documents as the collection holds chunks', async () => {
    const collection = await makeCollection(db, 'doubling-load', DIMS)
    await ingestNow(
      ingestDeps(db, stub.url),
      collection,
      guidelines().filter((f) => f.name.endsWith('ampersands.md')),
    )
    const stored = (await chunkSet(db, collection.id)).length
    const before = await indexOid(collection.id)
    const files = products()
    const { outcome, during } = await ingestWatchingIndex(smallGroups(), collection, files)
    expect(outcome).toBe('succeeded')
    const { rows } = await db.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM documents WHERE collection_id = $1 AND kind = 'product'",
      [collection.id],
    )
    expect(rows[0]!.n).toBeGreaterThanOrEqual(stored)
    expect(during).toEqual(['missing'])
    expect(await vectorIndexState(db.pool, collection.id)).toBe('valid')
    expect(await indexOid(collection.id)).not.toBe(before)
    const { searched, exact } = await nearest(collection, 'waterproof duffle bag')
    expect(searched).toEqual(exact)
  })

  it('is missing while an interrupted first load waits, searches stay exact, and the resumed job builds it', async () => {
    const collection = await makeCollection(db, 'interrupted', DIMS)
    const deps = smallGroups()
    const job = await createIngestJob(deps, { collection, mode: 'upsert', files: guidelines() })
    const claimed = (await claimJob(db.pool, 'w1', 60_000, job.id))!
    const stop = new AbortController()
    const outcome = await runJob(deps, claimed, 'w1', {
      signal: stop.signal,
      onProgress: (progress) => {
        if (progress.cursor >= 4) stop.abort()
      },
    })
    expect(outcome).toBe('stopped')
    await releaseJob(db.pool, job.id, 'w1')
    // Part of the corpus is stored, readable, without an index: searched exactly.
    const partial = await chunkSet(db, collection.id)
    expect(partial.length).toBeGreaterThan(0)
    expect(await vectorIndexState(db.pool, collection.id)).toBe('missing')
    const during = await nearest(collection, 'write for your users')
    expect(during.searched).toEqual(during.exact)

    const resumed = await runToEnd(deps, job.id, 'w2')
    expect(resumed.status).toBe('succeeded')
    expect(await vectorIndexState(db.pool, collection.id)).toBe('valid')
    // The same chunks as an uninterrupted load, and no text embedded twice.
    const reference = await makeCollection(db, 'uninterrupted', DIMS)
    await ingestNow(ingestDeps(db, stub.url), reference, guidelines())
    const strip = (rows: Awaited<ReturnType<typeof chunkSet>>) =>
      rows.map(({ sourceId, ordinal, contentHash, embedding }) => ({
        sourceId,
        ordinal,
        contentHash,
        embedding,
      }))
    expect(strip(await chunkSet(db, collection.id))).toEqual(strip(await chunkSet(db, reference.id)))
    const after = await nearest(collection, 'write for your users')
    expect(after.searched).toEqual(after.exact)
  })

  it('two jobs loading one empty collection at once both finish, with one valid index', async () => {
    const collection = await makeCollection(db, 'two-at-once', DIMS)
    const deps = smallGroups()
    const files = (only: JobFile[]) => createIngestJob(deps, { collection, mode: 'upsert', files: only })
    const first = await files(guidelines())
    const second = await files(products())
    // The first claim's lease runs out at once, so the second job is claimable beside it (a worker
    // that lost track of time); normally a collection runs one job at a time.
    const a = (await claimJob(db.pool, 'wa', 1, first.id))!
    await new Promise((resolve) => setTimeout(resolve, 5))
    const b = (await claimJob(db.pool, 'wb', 60_000, second.id))!
    expect(b).toBeDefined()
    const outcomes = await Promise.all([runJob(deps, a, 'wa'), runJob(deps, b, 'wb')])
    expect(outcomes).toEqual(['succeeded', 'succeeded'])
    expect(await vectorIndexState(db.pool, collection.id)).toBe('valid')
    const stored = await chunkSet(db, collection.id)
    const reference = await makeCollection(db, 'one-after-another', DIMS)
    await ingestNow(ingestDeps(db, stub.url), reference, [...guidelines(), ...products()])
    expect(stored.map((c) => [c.sourceId, c.ordinal, c.contentHash])).toEqual(
      (await chunkSet(db, reference.id)).map((c) => [c.sourceId, c.ordinal, c.contentHash]),
    )
    const { searched, exact } = await nearest(collection, 'tone of voice for products')
    expect(searched).toEqual(exact)
  })

  it('a build left invalid by an interrupted worker is dropped and built again', async () => {
    const collection = await makeCollection(db, 'invalid-index', DIMS)
    await ingestNow(ingestDeps(db, stub.url), collection, guidelines())
    await db.pool.query(
      `UPDATE pg_index SET indisvalid = false WHERE indexrelid = '${hnswIndexName(collection.id)}'::regclass`,
    )
    expect(await vectorIndexState(db.pool, collection.id)).toBe('invalid')
    expect(await ensureVectorIndex(db.pool, collection)).toBe('built')
    expect(await vectorIndexState(db.pool, collection.id)).toBe('valid')
    expect(await ensureVectorIndex(db.pool, collection)).toBe('present')
  })

  it('an unchanged re-ingest after the first load makes no embedding calls and keeps the index', async () => {
    const collection = await makeCollection(db, 'unchanged-again', DIMS)
    await ingestNow(ingestDeps(db, stub.url), collection, [...guidelines(), ...products()])
    stub.reset()
    const before = await indexOid(collection.id)
    const again = await ingestNow(ingestDeps(db, stub.url), collection, [...guidelines(), ...products()])
    expect(again.status).toBe('succeeded')
    expect(stub.embeddingCalls()).toBe(0)
    expect(await indexOid(collection.id)).toBe(before)
  })
})
