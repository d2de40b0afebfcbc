import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { Database } from '../../src/db/pool.js'
import { type OpenAIStub, startOpenAIStub } from '../support/openai-stub.js'
import { createTestDatabase } from '../support/test-db.js'
import {
  chunkSet,
  FIXTURES,
  ingestDeps,
  ingestNow,
  makeCollection,
  readFolder,
  textFile,
} from './ingest-harness.js'

let db: Database
let stub: OpenAIStub

beforeAll(async () => {
  db = await createTestDatabase()
  stub = await startOpenAIStub({ embeddingDimensions: 64 })
})
afterAll(async () => {
  await stub.close()
  await db.close()
})
beforeEach(() => stub.reset())

const guidelines = () => readFolder(join(FIXTURES, 'guidelines'))
const products = () => readFolder(join(FIXTURES, 'products'))

describe('incremental ingestion', () => {
  it('a first ingest embeds every chunk once and stores the heading path with each', async () => {
    const collection = await makeCollection(db, 'first-ingest')
    const job = await ingestNow(ingestDeps(db, stub.url), collection, [...guidelines(), ...products()])
    expect(job.status).toBe('succeeded')
    expect(job.errors).toEqual([])
    const chunks = await chunkSet(db, collection.id)
    expect(chunks.length).toBeGreaterThan(30)
    expect(chunks.every((chunk) => chunk.embedding !== null)).toBe(true)
    expect(new Set(stub.embeddedInputs()).size).toBe(new Set(chunks.map((c) => c.contentHash)).size)
    expect(
      chunks.find((c) => c.sourceId === '18f/voice-and-tone.md' && c.headingPath.endsWith('> Our voice')),
    ).toBeDefined()
    expect(job.progress).toMatchObject({ documents: { added: 23, updated: 0, unchanged: 0 } })
  })

  it('re-ingesting an unchanged corpus makes no embedding calls and changes nothing', async () => {
    const collection = await makeCollection(db, 'unchanged')
    const deps = ingestDeps(db, stub.url)
    await ingestNow(deps, collection, [...guidelines(), ...products()])
    const before = await chunkSet(db, collection.id)
    stub.reset()
    const again = await ingestNow(deps, collection, [...guidelines(), ...products()])
    expect(stub.embeddingCalls()).toBe(0)
    expect(again.progress).toMatchObject({ documents: { unchanged: 23, added: 0, updated: 0 } })
    expect(await chunkSet(db, collection.id)).toEqual(before)
  })

  it('an edited file re-embeds only the chunks whose text changed', async () => {
    const collection = await makeCollection(db, 'edited')
    const deps = ingestDeps(db, stub.url)
    const files = guidelines()
    await ingestNow(deps, collection, files)
    stub.reset()
    const edited = files.map((file) =>
      file.name === '18f/voice-and-tone.md'
        ? textFile(
            file.name,
            `${new TextDecoder().decode(file.content)}\n## Signing off\n\nEnd every email warmly.\n`,
          )
        : file,
    )
    const job = await ingestNow(deps, collection, edited)
    expect(job.progress).toMatchObject({ documents: { updated: 1, unchanged: files.length - 1 } })
    expect(stub.embeddedInputs()).toEqual(['Voice and tone > Signing off\n\nEnd every email warmly.'])
    expect(job.progress).toMatchObject({ chunks: { embedded: 1 } })
    expect((job.progress as { chunks: { reused: number } }).chunks.reused).toBeGreaterThan(5)
  })

  it('sync mode deletes documents missing from the source; upsert mode keeps them', async () => {
    const collection = await makeCollection(db, 'sync-delete')
    const deps = ingestDeps(db, stub.url)
    const files = guidelines()
    await ingestNow(deps, collection, files)
    const fewer = files.filter((file) => !file.name.startsWith('govau/'))
    const upsert = await ingestNow(deps, collection, fewer)
    expect(upsert.progress).toMatchObject({ documents: { deleted: 0 } })
    expect((await chunkSet(db, collection.id)).some((c) => c.sourceId.startsWith('govau/'))).toBe(true)
    const sync = await ingestNow(deps, collection, fewer, { mode: 'sync' })
    expect(sync.progress).toMatchObject({ documents: { deleted: 4 } })
    const left = await chunkSet(db, collection.id)
    expect(left.some((c) => c.sourceId.startsWith('govau/'))).toBe(false)
    expect(left.some((c) => c.sourceId.startsWith('18f/'))).toBe(true)
  })

  it('sync mode deletes nothing when a file could not be read', async () => {
    const collection = await makeCollection(db, 'sync-unreadable')
    const deps = ingestDeps(db, stub.url)
    await ingestNow(deps, collection, guidelines())
    const job = await ingestNow(deps, collection, [textFile('broken.md', '')], { mode: 'sync' })
    expect(job.progress).toMatchObject({ documents: { deleted: 0 } })
    expect(JSON.stringify(job.errors)).toContain('No documents were deleted')
    expect((await chunkSet(db, collection.id)).some((c) => c.sourceId.startsWith('govau/'))).toBe(true)
  })

  it('changing the chunk size re-chunks documents even though their bytes are the same', async () => {
    const collection = await makeCollection(db, 'rechunk')
    await ingestNow(ingestDeps(db, stub.url), collection, guidelines())
    const job = await ingestNow(
      ingestDeps(db, stub.url, { CHUNK_MAX_TOKENS: '120' }),
      collection,
      guidelines(),
    )
    expect(job.progress).toMatchObject({ documents: { updated: 7, unchanged: 0 } })
  })

  it('the reuse key includes the model: a collection with another model embeds everything itself', async () => {
    const deps = ingestDeps(db, stub.url)
    const first = await makeCollection(db, 'model-a')
    await ingestNow(deps, first, guidelines())
    stub.reset()
    const { createCollection } = await import('../../src/collections/manage-collections.js')
    const other = await createCollection(db.pool, {
      name: 'model-b',
      embeddingModel: 'other-embed',
      embeddingDimensions: 64,
    })
    const job = await ingestNow(deps, other, guidelines())
    expect(stub.embeddingCalls()).toBeGreaterThan(0)
    expect(job.progress).toMatchObject({ chunks: { reused: 0 } })
    expect(stub.calls.every((call) => call.body.model === 'other-embed')).toBe(true)
  })

  it('without an embedder chunks are stored for full-text search, and a backfill embeds them later', async () => {
    const collection = await makeCollection(db, 'lexical-first')
    const job = await ingestNow(ingestDeps(db, undefined), collection, guidelines())
    expect(job.status).toBe('succeeded')
    const stored = await chunkSet(db, collection.id)
    expect(stored.every((c) => c.embedding === null)).toBe(true)
    expect((job.progress as { chunks: { pending: number } }).chunks.pending).toBe(stored.length)
    const { rows } = await db.pool.query(
      "SELECT count(*)::int AS n FROM chunks WHERE collection_id = $1 AND tsv @@ websearch_to_tsquery('english', 'active voice')",
      [collection.id],
    )
    expect(rows[0].n).toBeGreaterThan(0)

    const backfill = await ingestNow(ingestDeps(db, stub.url), collection, [], { mode: 'backfill' })
    expect(backfill.status).toBe('succeeded')
    const after = await chunkSet(db, collection.id)
    expect(after.every((c) => c.embedding !== null)).toBe(true)
    expect(stub.embeddedInputs()).toHaveLength(new Set(after.map((c) => c.contentHash)).size)
  })

  it('a provider returning vectors of another size fails the job naming both sizes', async () => {
    const collection = await makeCollection(db, 'wrong-dims', 32)
    const job = await ingestNow(ingestDeps(db, stub.url), collection, guidelines())
    expect(job.status).toBe('failed')
    expect(job.error).toMatch(/returned vectors of 64 dimensions, but the collection expects 32/)
  })

  it('rate limits and server errors are retried until the provider answers', async () => {
    const collection = await makeCollection(db, 'flaky')
    stub.failNext({ path: 'embeddings', status: 429, times: 2, retryAfterSeconds: 0 })
    stub.failNext({ path: 'embeddings', status: 500, times: 1 })
    stub.dropNext({ path: 'embeddings', times: 1 })
    const job = await ingestNow(ingestDeps(db, stub.url), collection, products())
    expect(job.status).toBe('succeeded')
    expect((await chunkSet(db, collection.id)).every((c) => c.embedding !== null)).toBe(true)
  })

  it('a provider that keeps failing fails the job with a clear message after bounded retries', async () => {
    const collection = await makeCollection(db, 'down')
    stub.failNext({ path: 'embeddings', status: 503, times: 100 })
    const job = await ingestNow(
      ingestDeps(db, stub.url, { EMBEDDING_MAX_RETRIES: '2', EMBEDDING_CONCURRENCY: '1' }),
      collection,
      products(),
    )
    expect(job.status).toBe('failed')
    expect(job.error).toBe(
      'Embedding failed: The embedding provider answered HTTP 503. Gave up after 3 attempts.',
    )
  })

  it('a client error from the provider is not retried', async () => {
    const collection = await makeCollection(db, 'bad-request')
    stub.failNext({ path: 'embeddings', status: 400, times: 5 })
    const job = await ingestNow(ingestDeps(db, stub.url, { EMBEDDING_CONCURRENCY: '1' }), collection, [
      textFile('a.md', '# A\n\nHello.'),
    ])
    expect(job.status).toBe('failed')
    expect(stub.embeddingCalls()).toBe(1)
  })
})
