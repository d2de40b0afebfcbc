import pgvector from 'pgvector'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deleteCollection, updateRetrievalSettings } from '../../src/db/collections.js'
import type { Database } from '../../src/db/pool.js'
import type { Queryable } from '../../src/db/transaction.js'
import { AppError } from '../../src/errors.js'
import { CollectionCache } from '../../src/retrieval/collection-cache.js'
import { type RetrievalDeps, retrieve } from '../../src/retrieval/retrieve.js'
import type { RetrieveInput } from '../../src/retrieval/types.js'
import { deterministicEmbedding, type OpenAIStub, startOpenAIStub } from '../support/openai-stub.js'
import { seedCollection } from '../support/seed-chunks.js'
import { createTestDatabase } from '../support/test-db.js'
import { stubRetrievalDeps } from './retrieval-deps.js'

let db: Database
let stub: OpenAIStub

const documents = (prefix: string) => [
  {
    sourceId: `${prefix}/tone.md`,
    chunks: ['Write in a warm and friendly tone. Speak to the reader as you.'],
  },
  { sourceId: `${prefix}/grammar.md`, chunks: ['Use the active voice. Keep sentences short and plain.'] },
  {
    sourceId: `${prefix}/numbers.md`,
    chunks: ['Spell out numbers from one to nine and use numerals above.'],
  },
  {
    sourceId: `${prefix}/legal.md`,
    chunks: ['Promotions end at midnight; other promotions apply separately.'],
  },
]

beforeAll(async () => {
  stub = await startOpenAIStub()
  db = await createTestDatabase()
})

afterAll(async () => {
  await db?.close()
  await stub?.close()
})

/** Retrieval with a collection cache, counting the collection lookups it sends. */
function cachedDeps(): { deps: RetrievalDeps; lookups: () => number } {
  let lookups = 0
  const counting: Queryable = {
    query: ((text: unknown, values?: unknown) => {
      if (typeof text === 'string' && text.includes('FROM collections col WHERE col.name')) lookups += 1
      return db.pool.query(text as string, values as unknown[])
    }) as Queryable['query'],
  }
  return {
    deps: stubRetrievalDeps(counting, stub.url, { collectionCache: new CollectionCache() }),
    lookups: () => lookups,
  }
}

/** What an uncached retrieval answers: the reference every cached answer must equal. */
const uncached = (input: RetrieveInput) => retrieve(stubRetrievalDeps(db.pool, stub.url), input)
const summary = (result: Awaited<ReturnType<typeof retrieve>>) => ({
  mode: result.mode,
  passages: result.passages.map((p) => ({ chunkIds: p.chunkIds, scores: p.scores, ranks: p.ranks })),
})

describe('the collection cache', () => {
  it('sends no lookup for a collection it holds, and answers as an uncached retrieval does', async () => {
    await seedCollection(db.pool, { name: 'kept' }, documents('kept'))
    const { deps, lookups } = cachedDeps()
    const input = { collection: 'kept', query: 'active voice promotions' }
    const first = await retrieve(deps, input)
    expect(lookups()).toBe(1)
    const second = await retrieve(deps, input)
    expect(lookups()).toBe(1)
    expect(second.mode).toBe('hybrid')
    expect(summary(second)).toEqual(summary(first))
    expect(summary(second)).toEqual(summary(await uncached(input)))
  })

  it('searches with the new weight and BM25 parameters at once after the collection is re-weighted', async () => {
    const { collection } = await seedCollection(db.pool, { name: 'reweighted' }, documents('reweighted'))
    const { deps } = cachedDeps()
    const input = { collection: 'reweighted', query: 'active voice promotions' }
    expect((await retrieve(deps, input)).mode).toBe('hybrid')
    // Another process (or this one) changes the collection: the cache is not told.
    await updateRetrievalSettings(db.pool, collection.id, { lexicalWeight: 0 })
    const vectorOnly = await retrieve(deps, input)
    expect(vectorOnly.mode).toBe('vector')
    expect(summary(vectorOnly)).toEqual(summary(await uncached(input)))
    await updateRetrievalSettings(db.pool, collection.id, { lexicalWeight: 1, bm25: { k1: 2.5, b: 1 } })
    const lexical = await retrieve(deps, input)
    expect(lexical.mode).toBe('lexical')
    expect(summary(lexical)).toEqual(summary(await uncached(input)))
  })

  it('answers 404 for a renamed collection, and finds it under its new name', async () => {
    await seedCollection(db.pool, { name: 'before-rename' }, documents('renamed'))
    const { deps } = cachedDeps()
    const input = { collection: 'before-rename', query: 'active voice' }
    expect((await retrieve(deps, input)).passages.length).toBeGreaterThan(0)
    await db.pool.query("UPDATE collections SET name = 'after-rename' WHERE name = 'before-rename'")
    const stale = await retrieve(deps, input).catch((error: unknown) => error)
    expect(stale).toBeInstanceOf(AppError)
    expect((stale as AppError).code).toBe('not_found')
    const renamed = await retrieve(deps, { ...input, collection: 'after-rename' })
    expect(renamed.passages[0]!.sourceId).toBe('renamed/grammar.md')
  })

  it('searches the new collection when one is deleted and another made under its name', async () => {
    const { collection } = await seedCollection(db.pool, { name: 'recreated' }, documents('old'))
    const { deps } = cachedDeps()
    const input = { collection: 'recreated', query: 'active voice' }
    expect((await retrieve(deps, input)).passages[0]!.sourceId).toBe('old/grammar.md')
    await deleteCollection(db.pool, collection.id)
    await seedCollection(db.pool, { name: 'recreated' }, documents('new'))
    const fresh = await retrieve(deps, input)
    expect(fresh.passages[0]!.sourceId).toBe('new/grammar.md')
    expect(fresh.passages.every((p) => p.sourceId.startsWith('new/'))).toBe(true)
    await db.pool.query("DELETE FROM collections WHERE name = 'recreated'")
    await expect(retrieve(deps, input)).rejects.toMatchObject({ code: 'not_found' })
  })

  it('turns lexical when the collection loses its embeddings, and hybrid when an uncached one gains them', async () => {
    const { collection } = await seedCollection(db.pool, { name: 'unembedded-later' }, documents('e'))
    const { deps, lookups } = cachedDeps()
    const input = { collection: 'unembedded-later', query: 'active voice promotions' }
    expect((await retrieve(deps, input)).mode).toBe('hybrid')
    await db.pool.query(
      'UPDATE chunks SET embedding = NULL, embedding_model = NULL WHERE collection_id = $1',
      [collection.id],
    )
    for (const lexicalWeight of [undefined, 0]) {
      const withWeight = lexicalWeight === undefined ? input : { ...input, lexicalWeight }
      const lexical = await retrieve(deps, withWeight)
      expect(lexical.mode).toBe('lexical')
      expect(summary(lexical)).toEqual(summary(await uncached(withWeight)))
    }
    // Without embeddings the collection is looked up every time: that lookup sees the first embedded chunk.
    const before = lookups()
    await retrieve(deps, input)
    expect(lookups()).toBe(before + 1)
    const { rows } = await db.pool.query<{ id: number; text: string }>(
      'SELECT id, text FROM chunks WHERE collection_id = $1',
      [collection.id],
    )
    for (const row of rows) {
      await db.pool.query('UPDATE chunks SET embedding = $2::vector, embedding_model = $3 WHERE id = $1', [
        row.id,
        pgvector.toSql(deterministicEmbedding(` ${row.text}`, collection.embeddingDimensions)),
        collection.embeddingModel,
      ])
    }
    expect((await retrieve(deps, input)).mode).toBe('hybrid')
  })
})
