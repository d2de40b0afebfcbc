import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findSearchableCollection, searchChunks } from '../../src/db/chunk-search.js'
import type { Database } from '../../src/db/pool.js'
import { AppError } from '../../src/errors.js'
import { fusedScore } from '../../src/retrieval/fusion.js'
import { retrieve } from '../../src/retrieval/retrieve.js'
import { deterministicEmbedding, type OpenAIStub, startOpenAIStub } from '../support/openai-stub.js'
import { seedCollection } from '../support/seed-chunks.js'
import { createTestDatabase } from '../support/test-db.js'
import { stubRetrievalDeps, testRetrievalSettings } from './retrieval-deps.js'

let db: Database
let stub: OpenAIStub

const guidelines = [
  { sourceId: 'voice/tone.md', chunks: ['Write in a warm and friendly tone. Speak to the reader as you.'] },
  { sourceId: 'voice/grammar.md', chunks: ['Use the active voice. Keep sentences short and plain.'] },
  {
    sourceId: 'style/numbers.md',
    chunks: ['Spell out numbers from one to nine and use numerals above that.'],
  },
  { sourceId: 'style/colour.md', chunks: ['Favorite colors: teal, navy.'] },
  {
    sourceId: 'products/ZX-4471.json',
    kind: 'product' as const,
    metadata: { locale: 'en-AU', tags: ['outdoor'] },
    chunks: ['Trailmaster backpack, 40 litre capacity, code ZX4471, waterproof outdoor fabric.'],
  },
  {
    sourceId: 'products/YK-1200.json',
    kind: 'product' as const,
    metadata: { locale: 'en-US', tags: ['indoor'] },
    chunks: ['Cosy indoor throw blanket, cotton, machine washable, code YK1200.'],
  },
  {
    sourceId: 'legal/100%_off.md',
    chunks: ['Discount disclaimer: offers cannot be combined with other promotions.'],
  },
  {
    sourceId: 'legal/1000-off.md',
    chunks: ['Promotions end at midnight; other promotions apply separately.'],
  },
]

beforeAll(async () => {
  stub = await startOpenAIStub()
  db = await createTestDatabase()
  await seedCollection(db.pool, { name: 'brand' }, guidelines)
  await seedCollection(
    db.pool,
    { name: 'unembedded' },
    guidelines.map((d) => ({ ...d, embed: false })),
  )
})

afterAll(async () => {
  await db?.close()
  await stub?.close()
})

const deps = () => stubRetrievalDeps(db.pool, stub.url)

describe('retrieve on the database', () => {
  it('finds a chunk that only shares words with the query when the collection has no embeddings', async () => {
    const result = await retrieve(deps(), { collection: 'unembedded', query: 'numerals' })
    expect(result.mode).toBe('lexical')
    expect(result.passages[0]).toMatchObject({ sourceId: 'style/numbers.md', scores: { vector: null } })
    expect(result.passages[0]!.scores.lexical).toBeGreaterThan(0)
  })

  it('answers lexically without calling a model when no provider is configured', async () => {
    const before = stub.embeddingCalls()
    const result = await retrieve(stubRetrievalDeps(db.pool, undefined), {
      collection: 'brand',
      query: 'active voice',
    })
    expect(result.mode).toBe('lexical')
    expect(result.passages[0]!.sourceId).toBe('voice/grammar.md')
    expect(stub.embeddingCalls()).toBe(before)
  })

  it('finds a chunk that shares no word with the query through its embedding alone', async () => {
    // British spellings: the english stemmer keeps "favourite colours" apart from "favorite colors",
    // the trigram-hashing test embedder does not.
    const result = await retrieve(deps(), { collection: 'brand', query: 'favourite colours' })
    expect(result.mode).toBe('hybrid')
    expect(result.passages[0]).toMatchObject({ sourceId: 'style/colour.md', scores: { lexical: null } })
    const [best, ...rest] = result.passages.map((p) => p.scores.vector ?? 0)
    expect(best).toBeGreaterThan(Math.max(...rest))
  })

  it('matches any word of a natural-language question, ranking chunks with more of them higher', async () => {
    const result = await retrieve(deps(), { collection: 'brand', query: 'which promotions can be combined?' })
    expect(result.passages[0]!.sourceId).toBe('legal/100%_off.md')
    expect(result.passages.filter((p) => p.scores.lexical !== null).map((p) => p.sourceId)).toContain(
      'legal/1000-off.md',
    )
  })

  it('obeys search syntax when the query uses it', async () => {
    const result = await retrieve(stubRetrievalDeps(db.pool, undefined), {
      collection: 'brand',
      query: 'promotions -midnight',
    })
    expect(result.passages.map((p) => p.sourceId)).toEqual(['legal/100%_off.md'])
  })

  it('ranks an exact product code match first in hybrid mode', async () => {
    const result = await retrieve(deps(), { collection: 'brand', query: 'ZX4471' })
    expect(result.passages[0]!.sourceId).toBe('products/ZX-4471.json')
    expect(result.passages[0]!.scores.lexical).toBeGreaterThan(0)
    expect(result.passages[0]!.scores.vector).not.toBeNull()
  })

  it('respects kind, source prefix and metadata filters in both arms', async () => {
    const d = deps()
    const products = await retrieve(d, {
      collection: 'brand',
      query: 'warm friendly tone',
      filters: { kind: 'product' },
    })
    expect(products.passages.length).toBeGreaterThan(0)
    expect(products.passages.every((p) => p.kind === 'product')).toBe(true)

    const voice = await retrieve(d, {
      collection: 'brand',
      query: 'numbers',
      filters: { sourcePrefix: 'voice/' },
    })
    expect(voice.passages.map((p) => p.sourceId).sort()).toEqual(['voice/grammar.md', 'voice/tone.md'])

    // % and _ in a prefix are literal characters, not LIKE wildcards.
    const literal = await retrieve(d, {
      collection: 'brand',
      query: 'promotions',
      filters: { sourcePrefix: 'legal/100%_' },
    })
    expect(literal.passages.map((p) => p.sourceId)).toEqual(['legal/100%_off.md'])

    const australian = await retrieve(d, {
      collection: 'brand',
      query: 'code',
      filters: { metadata: { locale: 'en-AU' } },
    })
    expect(australian.passages.map((p) => p.sourceId)).toEqual(['products/ZX-4471.json'])

    const tagged = await retrieve(d, {
      collection: 'brand',
      query: 'blanket',
      filters: { metadata: { tags: ['indoor'] } },
    })
    expect(tagged.passages.map((p) => p.sourceId)).toEqual(['products/YK-1200.json'])
  })

  it('returns the rows the SQL fused in the order and with the scores the fusion function gives', async () => {
    const collection = (await findSearchableCollection(db.pool, 'brand'))!
    const rows = await searchChunks(db.pool, collection, {
      query: 'promotions code',
      matchAny: true,
      queryVector: deterministicEmbedding('promotions code', 256),
      candidates: 40,
      limit: 50,
      rrfK: 60,
      efSearch: 64,
      maxScanTuples: 20_000,
      iterativeScan: 'relaxed_order',
    })
    expect(rows.length).toBe(guidelines.length)
    expect(rows.some((r) => r.vectorRank !== null && r.lexicalRank !== null)).toBe(true)
    for (const row of rows) expect(row.fused).toBe(fusedScore(60, row.vectorRank, row.lexicalRank))
    const vectorOrder = rows.filter((r) => r.vectorRank !== null).sort((a, b) => a.distance! - b.distance!)
    expect(vectorOrder.map((r) => r.vectorRank)).toEqual(vectorOrder.map((_, i) => i + 1))
    for (let i = 1; i < rows.length; i++) expect(rows[i - 1]!.fused).toBeGreaterThanOrEqual(rows[i]!.fused)
  })

  it('ignores embeddings made by another model than the collection is bound to', async () => {
    await seedCollection(db.pool, { name: 'mixed' }, [
      { sourceId: 'a.md', chunks: [{ text: 'teal and navy colours', embeddingModel: 'other-model' }] },
    ])
    const result = await retrieve(deps(), { collection: 'mixed', query: 'favourite colors' })
    expect(result.mode).toBe('lexical')
  })

  it('embeds a repeated query once', async () => {
    const d = deps()
    const before = stub.embeddingCalls()
    await retrieve(d, { collection: 'brand', query: 'short plain sentences' })
    await retrieve(d, { collection: 'brand', query: 'short plain sentences' })
    expect(stub.embeddingCalls()).toBe(before + 1)
  })

  it('leaves no HNSW setting behind on the connection it used', async () => {
    const client = await db.pool.connect()
    try {
      const before = (await client.query('SHOW hnsw.ef_search')).rows[0]
      await retrieve({ ...deps(), db: client }, { collection: 'brand', query: 'tone', efSearch: 321 })
      expect((await client.query('SHOW hnsw.ef_search')).rows[0]).toEqual(before)
      expect((await client.query('SHOW hnsw.iterative_scan')).rows[0]).toEqual({
        'hnsw.iterative_scan': 'off',
      })
    } finally {
      client.release()
    }
  })

  it('packs to the token budget', async () => {
    const result = await retrieve(deps(), {
      collection: 'brand',
      query: 'promotions',
      k: 8,
      budgetTokens: 20,
    })
    expect(result.usedTokens).toBeLessThanOrEqual(20)
    expect(result.passages.reduce((sum, p) => sum + p.tokens, 0)).toBe(result.usedTokens)
    expect(result.passages.length).toBeGreaterThan(0)
  })

  it('rejects an unknown collection and invalid input with domain errors', async () => {
    const d = deps()
    await expect(retrieve(d, { collection: 'nope', query: 'x' })).rejects.toMatchObject({ code: 'not_found' })
    for (const bad of [
      { collection: 'brand', query: '   ' },
      { collection: 'brand', query: 'x', k: 0 },
      { collection: 'brand', query: 'x', k: 51 },
      { collection: 'brand', query: 'x'.repeat(2001) },
      { collection: 'brand', query: 'x', efSearch: testRetrievalSettings.efSearchMax + 1 },
      { collection: 'brand', query: 'x', filters: { kinds: 'product' } as never },
    ]) {
      const error = await retrieve(d, bad).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(AppError)
      expect(error).toMatchObject({ code: 'validation_failed' })
    }
  })
})
