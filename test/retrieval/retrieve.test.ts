import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { findSearchableCollection } from '../../src/db/chunk-search.js'
import type { Database } from '../../src/db/pool.js'
import type { Queryable } from '../../src/db/transaction.js'
import type { EmbedderFactory } from '../../src/embedding/embedder.js'
import { AppError } from '../../src/errors.js'
import { fuseArms } from '../../src/retrieval/fusion.js'
import { retrieve } from '../../src/retrieval/retrieve.js'
import { searchChunks } from '../../src/retrieval/search.js'
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
    // The phrase matches nothing: the words, but not the excluded one ("midnight" would find legal/1000-off.md).
    const relaxed = await retrieve(stubRetrievalDeps(db.pool, undefined), {
      collection: 'brand',
      query: '"purple teal" -midnight',
    })
    expect(relaxed.passages.map((p) => p.sourceId)).toEqual(['style/colour.md'])
  })

  it('holds search syntax in the vector arm too: no passage from either arm breaks it', async () => {
    // The vector arm alone returns every chunk of this small collection.
    const excluded = await retrieve(deps(), { collection: 'brand', query: 'promotions -midnight' })
    expect(excluded.mode).toBe('hybrid')
    expect(excluded.passages.map((p) => p.sourceId)).toEqual(['legal/100%_off.md'])
    const vectorOnly = await retrieve(deps(), {
      collection: 'brand',
      query: '"active voice"',
      lexicalWeight: 0,
    })
    expect(vectorOnly.mode).toBe('vector')
    expect(vectorOnly.passages.map((p) => p.sourceId)).toEqual(['voice/grammar.md'])
    // Asked for and matching nothing: nothing, from either arm.
    const strict = await retrieve(deps(), {
      collection: 'brand',
      query: '"teal navy blanket"',
      searchSyntax: true,
    })
    expect(strict.passages).toEqual([])
    // Not asked for and matching nothing: both arms search as if there were no syntax.
    const relaxed = await retrieve(deps(), { collection: 'brand', query: '"teal navy blanket"' })
    expect(relaxed.passages.some((p) => p.scores.lexical !== null)).toBe(true)
    expect(relaxed.passages.some((p) => p.scores.vector !== null && p.scores.lexical === null)).toBe(true)
    // "No chunk matches" means no chunk the filters let through, in both arms: the one match is elsewhere.
    const filtered = await retrieve(deps(), {
      collection: 'brand',
      query: '"teal navy"',
      filters: { sourcePrefix: 'voice/' },
    })
    expect(filtered.passages.map((p) => p.sourceId).sort()).toEqual(['voice/grammar.md', 'voice/tone.md'])
    const matched = await retrieve(deps(), {
      collection: 'brand',
      query: '"active voice"',
      filters: { sourcePrefix: 'voice/' },
    })
    expect(matched.passages.map((p) => p.sourceId)).toEqual(['voice/grammar.md'])
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

  it('applies every filter set in the BM25 arm too: a request narrows its scope and cannot widen it', async () => {
    const lexical = stubRetrievalDeps(db.pool, undefined)
    const scoped = await retrieve(lexical, {
      collection: 'brand',
      query: 'promotions code',
      scopeFilters: { sourcePrefix: 'legal/' },
      filters: { sourcePrefix: 'legal/1000' },
    })
    expect(scoped.mode).toBe('lexical')
    expect(scoped.passages.map((p) => p.sourceId)).toEqual(['legal/1000-off.md'])
    const contradiction = await retrieve(lexical, {
      collection: 'brand',
      query: 'promotions code',
      scopeFilters: { kind: 'guideline' },
      filters: { kind: 'product' },
    })
    expect(contradiction.passages).toEqual([])
    const metadata = await retrieve(lexical, {
      collection: 'brand',
      query: 'code',
      scopeFilters: { metadata: { locale: 'en-AU' } },
      filters: { metadata: { tags: ['indoor'] } },
    })
    expect(metadata.passages).toEqual([])
  })

  it('returns the rows the SQL fused in the order and with the scores the fusion function gives', async () => {
    const collection = (await findSearchableCollection(db.pool, 'brand'))!
    for (const lexicalWeight of [0.8, 0.3]) {
      const rows = await searchChunks(db.pool, collection, {
        query: 'promotions code',
        syntax: 'words',
        relaxWhenEmpty: false,
        bm25: { k1: 0.9, b: 0.4 },
        lexicalWeight,
        queryVector: deterministicEmbedding('promotions code', 256),
        candidates: 40,
        limit: 50,
        efSearch: 64,
        maxScanTuples: 20_000,
        lexicalMaxScored: null,
        iterativeScan: 'relaxed_order',
      })
      expect(rows.length).toBe(guidelines.length)
      expect(rows.some((r) => r.vectorRank !== null && r.lexicalRank !== null)).toBe(true)
      const byRank = (key: 'vectorRank' | 'lexicalRank') =>
        rows.filter((r) => r[key] !== null).sort((a, b) => a[key]! - b[key]!)
      const expected = fuseArms(
        byRank('vectorRank').map((r) => ({ id: r.id, score: 1 - r.distance! })),
        byRank('lexicalRank').map((r) => ({ id: r.id, score: r.lexicalScore! })),
        lexicalWeight,
      )
      expect(rows.map((r) => r.id)).toEqual(expected.map((item) => item.id))
      rows.forEach((row, i) => {
        expect(row.fused).toBeCloseTo(expected[i]!.fused, 9)
        expect(row.fusedRank).toBe(i + 1)
      })
      const vectorOrder = byRank('vectorRank')
      expect(vectorOrder.map((r) => r.distance)).toEqual(
        vectorOrder.map((r) => r.distance).sort((a, b) => a! - b!),
      )
    }
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
      { collection: 'brand', query: 'x', k: 101 },
      { collection: 'brand', query: 'x', lexicalWeight: 1.5 },
      { collection: 'brand', query: 'x', kUnit: 'pages' as never },
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

describe('questions, documents and weights', () => {
  beforeAll(async () => {
    await seedCollection(
      db.pool,
      { name: 'questions' },
      [
        {
          sourceId: 'tea.md',
          chunks: ['Serve tea hot with milk.', 'Tea leaves keep for a year.', 'Green tea is brewed cooler.'],
        },
        {
          sourceId: 'coffee.md',
          chunks: ['Serve coffee black or with milk.', 'Coffee beans keep for a month.'],
        },
        { sourceId: 'water.md', chunks: ['Serve water cold.'] },
        { sourceId: 'juice.md', chunks: ['Serve juice chilled.'] },
      ].map((d) => ({ ...d, embed: false })),
    )
  })

  it('treats " or " in a question as a word, not as search syntax, and still finds the passages', async () => {
    const lexical = stubRetrievalDeps(db.pool, undefined)
    const question = 'Is coffee brewed hot or green tea chilled?'
    const result = await retrieve(lexical, { collection: 'questions', query: question })
    expect(result.passages.map((p) => p.sourceId)).toEqual(
      expect.arrayContaining(['tea.md', 'coffee.md', 'juice.md']),
    )
    // As search syntax, (coffee & brew & hot) | (green & tea & chill): no chunk has either. Only asked for, it is obeyed.
    const strict = await retrieve(lexical, { collection: 'questions', query: question, searchSyntax: true })
    expect(strict.passages).toEqual([])
  })

  it('obeys quotes, and falls back to the words when the phrase matches nothing unless syntax was asked for', async () => {
    const lexical = stubRetrievalDeps(db.pool, undefined)
    const phrase = await retrieve(lexical, { collection: 'questions', query: '"keep for a month"' })
    expect(phrase.passages.map((p) => p.sourceId)).toEqual(['coffee.md'])
    const unmatched = await retrieve(lexical, { collection: 'questions', query: '"milk tea"' })
    expect(unmatched.passages.length).toBeGreaterThan(0)
    const asked = await retrieve(lexical, {
      collection: 'questions',
      query: '"milk tea"',
      searchSyntax: true,
    })
    expect(asked.passages).toEqual([])
  })

  it('counts k in distinct documents when asked, keeping every chunk of them that ranked before the next', async () => {
    const lexical = stubRetrievalDeps(db.pool, undefined)
    const chunks = await retrieve(lexical, { collection: 'questions', query: 'serve tea keep', k: 2 })
    expect(chunks.passages.flatMap((p) => p.chunkIds)).toHaveLength(2)
    const documents = await retrieve(lexical, {
      collection: 'questions',
      query: 'serve tea keep',
      k: 2,
      kUnit: 'documents',
    })
    expect(new Set(documents.passages.map((p) => p.sourceId)).size).toBe(2)
    expect(documents.passages.flatMap((p) => p.chunkIds).length).toBeGreaterThan(2)
    // Ranks are those of the search: a passage carries the best rank of its chunks.
    expect(documents.passages[0]!.ranks).toMatchObject({ vector: null, fused: 1, lexical: 1 })
  })

  it('weights the arms per request: all lexical follows BM25, all vector follows the embedding', async () => {
    const d = deps()
    const query = 'promotions code'
    const before = stub.embeddingCalls()
    const lexicalOnly = await retrieve(d, { collection: 'brand', query, lexicalWeight: 1 })
    expect(lexicalOnly.mode).toBe('lexical') // weight 1: no query embedding, no vector arm
    expect(stub.embeddingCalls()).toBe(before)
    const vectorOnly = await retrieve(d, { collection: 'brand', query, lexicalWeight: 0 })
    expect(vectorOnly.mode).toBe('vector') // weight 0: no BM25 arm
    expect(vectorOnly.passages.every((p) => p.ranks.lexical === null && p.scores.lexical === null)).toBe(true)
    const byLexical = lexicalOnly.passages.filter((p) => p.ranks.lexical !== null)
    expect(byLexical.map((p) => p.ranks.lexical)).toEqual(byLexical.map((_, i) => i + 1))
    expect(vectorOnly.passages.map((p) => p.ranks.vector)).toEqual(vectorOnly.passages.map((_, i) => i + 1))
    const order = (result: typeof vectorOnly) => result.passages.map((p) => p.sourceId)
    expect(order(vectorOnly)).not.toEqual(order(lexicalOnly))
  })

  it("takes the collection's lexical weight when the request names none", async () => {
    const d = deps()
    const query = 'favourite colours code'
    const { rows } = await db.pool.query<{ id: number }>(
      "UPDATE collections SET lexical_weight = 0 WHERE name = 'brand' RETURNING id",
    )
    try {
      const byCollection = await retrieve(d, { collection: 'brand', query })
      const vectorOnly = await retrieve(d, { collection: 'brand', query, lexicalWeight: 0 })
      expect(byCollection.passages.map((p) => p.chunkIds)).toEqual(vectorOnly.passages.map((p) => p.chunkIds))
    } finally {
      await db.pool.query('UPDATE collections SET lexical_weight = 0.8 WHERE id = $1', [rows[0]!.id])
    }
  })
})

describe('the order of the statements', () => {
  it('sends the BM25 arm while the query is still being embedded, the vector arm once it is', async () => {
    const sent: string[] = []
    const recording: Queryable = {
      query: ((text: string, values?: unknown[]) => {
        if (text.includes('bm25_search')) sent.push('lexical')
        else if (text.includes('<=>')) sent.push('vector')
        return db.pool.query(text, values)
      }) as Queryable['query'],
    }
    let release: (vector: number[]) => void = () => {}
    const embedding = new Promise<number[]>((resolve) => {
      release = resolve
    })
    const embedders: EmbedderFactory = (model, dimensions) => ({
      model,
      dimensions,
      embedDocuments: async () => [],
      embedQuery: () => embedding,
    })
    const query = 'promotions code'
    const pending = retrieve(
      { db: recording, embedders, settings: testRetrievalSettings },
      { collection: 'brand', query },
    )
    await vi.waitFor(() => expect(sent).toEqual(['lexical']))
    release(deterministicEmbedding(query, 256))
    const result = await pending
    expect(sent).toEqual(['lexical', 'vector'])
    expect(result.mode).toBe('hybrid')
    const reference = await retrieve(deps(), { collection: 'brand', query })
    expect(result.passages.map((p) => p.chunkIds)).toEqual(reference.passages.map((p) => p.chunkIds))
  })
})

describe('the BM25 candidate cap', () => {
  it('reaches the search: past the cap only chunks holding the rarest words are ranked, with no cap all are', async () => {
    const common = Array.from({ length: 45 }, (_, i) => ({
      sourceId: `common-${i}.md`,
      chunks: [`A common sentence about ordinary things, number ${i}.`],
      embed: false,
    }))
    const rare = { sourceId: 'rare.md', chunks: ['A common sentence with a zeppelin in it.'], embed: false }
    await seedCollection(db.pool, { name: 'capped' }, [...common, rare])
    const withCap = (bm25MaxCandidates: number) =>
      stubRetrievalDeps(db.pool, undefined, { settings: { ...testRetrievalSettings, bm25MaxCandidates } })
    // 46 chunks hold "common", one "zeppelin": a cap below 47 postings leaves "common" out of the candidates.
    const capped = await retrieve(withCap(1), { collection: 'capped', query: 'common zeppelin' })
    expect(capped.passages.map((p) => p.sourceId)).toEqual(['rare.md'])
    const exact = await retrieve(withCap(0), { collection: 'capped', query: 'common zeppelin' })
    expect(exact.passages[0]!.sourceId).toBe('rare.md')
    expect(exact.passages.length).toBeGreaterThan(1)
  })
})
