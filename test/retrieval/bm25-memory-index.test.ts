import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findSearchableCollection } from '../../src/db/chunk-search.js'
import { updateRetrievalSettings } from '../../src/db/collections.js'
import type { Database } from '../../src/db/pool.js'
import { forEachLexeme, queryLexemes } from '../../src/db/text-postings.js'
import type { Queryable } from '../../src/db/transaction.js'
import {
  Bm25MemoryIndexes,
  memoryLexicalPlanner,
  searchSnapshot,
  termBound,
} from '../../src/retrieval/bm25-memory-index.js'
import { retrieve, searchOptionsFor } from '../../src/retrieval/retrieve.js'
import { runSearch } from '../../src/retrieval/search.js'
import { RetrieveRequest } from '../../src/retrieval/types.js'
import { deterministicEmbedding } from '../support/openai-stub.js'
import { skewedWordCorpus } from '../support/random-corpus.js'
import { seedCollection } from '../support/seed-chunks.js'
import { createTestDatabase } from '../support/test-db.js'
import { stubRetrievalDeps, testRetrievalSettings } from './retrieval-deps.js'

let db: Database

beforeAll(async () => {
  db = await createTestDatabase()
})

afterAll(async () => {
  await db?.close()
})

/** A Queryable over the pool that keeps the text (and the name, if prepared) of every statement sent through it. */
function recording(pool: Queryable): { db: Queryable; texts: string[]; names: string[] } {
  const texts: string[] = []
  const names: string[] = []
  return {
    texts,
    names,
    db: {
      query: ((first: string | { text: string; name?: string }, ...rest: unknown[]) => {
        texts.push(typeof first === 'string' ? first : first.text)
        if (typeof first !== 'string' && first.name !== undefined) names.push(first.name)
        return (pool.query as (...a: unknown[]) => unknown).call(pool, first, ...rest)
      }) as Queryable['query'],
    },
  }
}

async function indexOf(indexes: Bm25MemoryIndexes, collectionId: number) {
  expect(indexes.get(collectionId)).toBeUndefined() // the first call starts the build
  await indexes.settled(collectionId)
  const snapshot = indexes.get(collectionId)
  expect(snapshot).toBeDefined()
  return snapshot!
}

async function exactBm25(collectionId: number, query: string, limit: number, k1 = 0.9, b = 0.4) {
  const { rows } = await db.pool.query<{ id: number; bm25: number }>(
    `SELECT chunk_id::float8 AS id, bm25 FROM bm25_search($1, 'english', $2, NULL, false, $3, $4, $5, NULL, NULL, NULL, NULL)`,
    [collectionId, query, k1, b, limit],
  )
  return rows
}

async function textVersion(collectionId: number): Promise<number> {
  const { rows } = await db.pool.query<{ v: number }>(
    'SELECT version::float8 AS v FROM collection_text_stats WHERE collection_id = $1',
    [collectionId],
  )
  return rows[0]!.v
}

describe('tsvector text', () => {
  it('is read into the lexemes and term frequencies that unnest gives, quotes, backslashes and weights included', async () => {
    const vectors = [
      `$$'a''b':1,2A 'c\\\\d' 'e f':3 'x''':4B,5,6C 'plain'$$::tsvector`,
      `to_tsvector('english', $$It's the runner's "quoted" text, run runs running; C:\\\\path\\\\file o'clock$$)`,
      `to_tsvector('simple', $$a b a c a b 'q' ''$$)`,
      `''::tsvector`,
    ]
    for (const vector of vectors) {
      const { rows } = await db.pool.query<{ text: string; pairs: [string, number][] | null }>(
        `SELECT v::text AS text, (SELECT json_agg(json_build_array(u.lexeme, greatest(cardinality(u.positions), 1)))
           FROM unnest(v) u) AS pairs FROM (SELECT ${vector} AS v) s`,
      )
      const parsed: [string, number][] = []
      forEachLexeme(rows[0]!.text, (lexeme, tf) => parsed.push([lexeme, tf]))
      expect(parsed).toEqual(rows[0]!.pairs ?? [])
    }
  })
})

describe('in-process BM25 index', () => {
  it('scores as computed by hand, with the caller k1 and b', async () => {
    const { collection, chunkIds } = await seedCollection(db.pool, { name: 'memory-arith' }, [
      { sourceId: 'repeat.md', embed: false, chunks: ['risk risk risk risk risk risk'] },
      { sourceId: 'all.md', embed: false, chunks: ['The cardiac risk of smoking in older patients'] },
      { sourceId: 'short.md', embed: false, chunks: ['Smoking patients'] },
    ])
    const indexes = new Bm25MemoryIndexes(db.pool, { maxBytes: 1_000_000, minChunks: 1 })
    const snapshot = await indexOf(indexes, collection.id)
    // As in bm25.test.ts: N = 3 chunks of 6, 5 and 2 indexed words, avg 13/3; idf of risk, smoke, patient ln 1.6.
    const idf = Math.log(1.6)
    const part = (tf: number, length: number) => (tf * 1.9) / (tf + 0.9 * (0.6 + (0.4 * length) / (13 / 3)))
    const lexemes = await queryLexemes(db.pool, 'english', 'What is the risk of smoking for patients?')
    const ranked = searchSnapshot(snapshot, lexemes, 0.9, 0.4, 10)
    const id = (source: string) => chunkIds.get(source)![0]!
    expect(ranked.ids).toEqual([id('all.md'), id('short.md'), id('repeat.md')])
    expect(ranked.scores[0]).toBeCloseTo(3 * idf * part(1, 5), 12)
    expect(ranked.scores[1]).toBeCloseTo(2 * idf * part(1, 2), 12)
    expect(ranked.scores[2]).toBeCloseTo(idf * part(6, 6), 12)
    // k1 = 0: term frequency does not count; b = 0: length does not.
    expect(searchSnapshot(snapshot, ['risk'], 0, 0.4, 1).scores[0]).toBeCloseTo(idf, 12)
    const noLength = searchSnapshot(snapshot, ['risk'], 1.2, 0, 10)
    expect(noLength.scores[noLength.ids.indexOf(id('repeat.md'))]).toBeCloseTo(
      (idf * 6 * 2.2) / (6 + 1.2),
      12,
    )
    // Words the collection lacks, and none at all.
    expect(searchSnapshot(snapshot, ['navi', 'zzz'], 0.9, 0.4, 10)).toEqual({
      ids: [],
      scores: [],
      scored: 0,
    })
    expect(searchSnapshot(snapshot, [], 0.9, 0.4, 10)).toEqual({ ids: [], scores: [], scored: 0 })
    // The scratch space is clean after a search: the same search gives the same scores.
    expect(searchSnapshot(snapshot, lexemes, 0.9, 0.4, 10)).toEqual(ranked)
  })

  it('returns the ids and scores of uncapped bm25_search, whatever the limit', async () => {
    const { words, documents } = skewedWordCorpus({
      prefix: 'mword',
      words: 60,
      documents: 300,
      seed: 5,
      skew: 3,
      maxLength: 40,
    })
    const { collection } = await seedCollection(db.pool, { name: 'memory-parity' }, documents)
    // Pages of 7 rows: the build reads many statements.
    const indexes = new Bm25MemoryIndexes(db.pool, { maxBytes: 10_000_000, minChunks: 1, pageSize: 7 })
    const snapshot = await indexOf(indexes, collection.id)
    expect(snapshot.chunkCount).toBe(300)
    const queries = [words.slice(0, 6), [words[0]!, words[40]!, words[59]!], words.slice(20, 35), [words[3]!]]
    for (const query of queries) {
      const lexemes = await queryLexemes(db.pool, 'english', query.join(' '))
      for (const [k1, b] of [
        [0.9, 0.4],
        [1.5, 0.9],
      ] as const) {
        for (const limit of [1, 10, 40, 1000]) {
          const exact = await exactBm25(collection.id, query.join(' '), limit, k1, b)
          const ranked = searchSnapshot(snapshot, lexemes, k1, b, limit)
          expect(ranked.ids).toEqual(exact.map((row) => row.id))
          for (const [i, row] of exact.entries()) expect(ranked.scores[i]).toBeCloseTo(row.bm25, 9)
        }
      }
    }
  })

  it('prunes the common words of a long question and still returns the ranking of uncapped bm25_search', async () => {
    const { words, documents } = skewedWordCorpus({
      prefix: 'pword',
      words: 150,
      documents: 800,
      seed: 11,
      skew: 4,
      maxLength: 50,
    })
    const { collection } = await seedCollection(db.pool, { name: 'memory-prune' }, documents)
    const indexes = new Bm25MemoryIndexes(db.pool, { maxBytes: 10_000_000, minChunks: 1 })
    const snapshot = await indexOf(indexes, collection.id)
    // Questions of a few rare words and many common ones, as natural-language questions are.
    const questions = [
      [...words.slice(0, 12), words[90]!, words[120]!, words[149]!],
      [...words.slice(0, 8), words[60]!, words[75]!],
      [...words.slice(2, 20), words[100]!],
      words.slice(0, 25),
    ]
    // 0.9 and 0.4 are the collection's (bounds computed as the index was built); 1.2 and 0.75 are not.
    const pruned = { '0.9/0.4': 0, '1.2/0.75': 0 }
    for (const question of questions) {
      const lexemes = await queryLexemes(db.pool, 'english', question.join(' '))
      for (const [k1, b] of [
        [0.9, 0.4],
        [1.2, 0.75],
      ] as const) {
        const total = searchSnapshot(snapshot, lexemes, k1, b, 1000).scored
        for (const limit of [1, 5, 10, 40]) {
          const exact = await exactBm25(collection.id, question.join(' '), limit, k1, b)
          const ranked = searchSnapshot(snapshot, lexemes, k1, b, limit)
          expect(ranked.ids).toEqual(exact.map((row) => row.id))
          for (const [i, row] of exact.entries()) expect(ranked.scores[i]).toBeCloseTo(row.bm25, 9)
          if (ranked.scored < total) pruned[`${k1}/${b}` as keyof typeof pruned] += 1
        }
      }
    }
    // Both kinds of bound pruned (else this test would not be testing the pruning).
    expect(pruned['0.9/0.4']).toBeGreaterThan(4)
    expect(pruned['1.2/0.75']).toBeGreaterThan(4)
    // Each word's bound is at least the share of every one of its postings; at the build's k1 and b, the
    // largest of them exactly.
    for (const [k1, b] of [
      [0.9, 0.4],
      [1.2, 0.75],
      [0, 1],
      [3, 0],
    ] as const) {
      for (const term of snapshot.terms.values()) {
        let most = 0
        for (let p = snapshot.termStart[term]!; p < snapshot.termStart[term + 1]!; p++) {
          const tf = snapshot.postingTf[p]!
          const norm =
            k1 * (1 - b + (b * snapshot.chunkLength[snapshot.postingChunk[p]!]!) / snapshot.averageLength)
          most = Math.max(most, (tf * (k1 + 1)) / (tf + norm))
        }
        if (k1 === 0.9 && b === 0.4) expect(termBound(snapshot, term, k1, b)).toBe(most)
        else expect(termBound(snapshot, term, k1, b)).toBeGreaterThanOrEqual(most)
      }
    }
  })

  it('prunes to exactly the ranking of scoring every posting, whatever the shape of the collection', async () => {
    // Collections built to stress the bounds: exact ties, one very long chunk, a word in every chunk, term
    // frequencies in the hundreds; the collection's k1 and b at their extremes. A search with more rows than
    // chunks cannot prune (no floor), so it is the reference, computed by the same code in the same order.
    let seed = 17
    const random = () => {
      seed = (seed * 48271) % 2147483647
      return seed / 2147483647
    }
    const shapes = ['ties', 'long', 'everywhere', 'frequent', 'skewed', 'ties'] as const
    const settings = [
      { k1: 0, b: 0 },
      { k1: 3, b: 1 },
      { k1: 0.9, b: 0.4 },
      { k1: 1.2, b: 0.75 },
      { k1: 2, b: 0 },
      { k1: 0.5, b: 1 },
    ]
    let compared = 0
    let pruned = 0
    for (const [n, shape] of shapes.entries()) {
      const words = Array.from({ length: 40 }, (_, i) => `sh${String.fromCharCode(97 + (i % 26))}x${i}`)
      const texts = Array.from({ length: 160 }, (_, c) => {
        const length =
          shape === 'ties' ? 3 : shape === 'long' && c === 80 ? 20_000 : 1 + Math.floor(random() * 30)
        const picked = Array.from({ length }, () =>
          shape === 'ties' ? words[Math.floor(random() * 4)]! : words[Math.floor(40 * random() ** 3)]!,
        )
        if (shape === 'everywhere') picked.push('shevery')
        if (shape === 'frequent' && random() < 0.2) for (let j = 0; j < 300; j++) picked.push(words[j % 3]!)
        return picked.join(' ')
      })
      const { collection } = await seedCollection(
        db.pool,
        { name: `memory-shape-${n}`, textSearchConfig: 'simple' },
        texts.map((text, i) => ({ sourceId: `s${i}.md`, embed: false, chunks: [text] })),
      )
      await updateRetrievalSettings(db.pool, collection.id, { bm25: settings[n]! })
      const indexes = new Bm25MemoryIndexes(db.pool, { maxBytes: 10_000_000, minChunks: 1 })
      const snapshot = await indexOf(indexes, collection.id)
      expect(snapshot.termBound).toMatchObject(settings[n]!)
      for (let q = 0; q < 30; q++) {
        // Half at the collection's k1 and b (the bounds computed at build), half at others (the looser ones).
        const { k1, b } = q % 2 === 0 ? settings[n]! : settings[(n + 1 + (q % 5)) % settings.length]!
        const lexemes = Array.from({ length: 1 + Math.floor(random() * 14) }, () =>
          random() < 0.1 ? 'shabsent' : random() < 0.15 ? 'shevery' : words[Math.floor(random() * 40)]!,
        )
        const everything = searchSnapshot(snapshot, lexemes, k1, b, 1000)
        for (const limit of [0, 1, 3, 10, 40]) {
          const ranked = searchSnapshot(snapshot, [...lexemes, ...lexemes.slice(0, 2)], k1, b, limit)
          expect(
            { ids: ranked.ids, scores: ranked.scores },
            `${shape} ${k1}/${b} ${lexemes} ${limit}`,
          ).toEqual({
            ids: everything.ids.slice(0, limit),
            scores: everything.scores.slice(0, limit),
          })
          compared++
          if (ranked.scored < everything.scored) pruned++
        }
      }
    }
    expect(compared).toBe(900)
    expect(pruned).toBeGreaterThan(100)
  })

  it('breaks ties by chunk id, whichever chunks the words reach first', async () => {
    // Chunks of equal length holding words of equal df: "yak zebra" (first, lower ids) and "xray yak"
    // score the same. Taking "xray" first reaches the later chunks first; the answer is still the lower ids.
    const { collection, chunkIds } = await seedCollection(db.pool, { name: 'memory-ties' }, [
      { sourceId: 'low.md', embed: false, chunks: ['yak zebra', 'yak zebra', 'yak zebra'] },
      { sourceId: 'high.md', embed: false, chunks: ['xray yak', 'xray yak', 'xray yak'] },
    ])
    const indexes = new Bm25MemoryIndexes(db.pool, { maxBytes: 1_000_000, minChunks: 1 })
    const snapshot = await indexOf(indexes, collection.id)
    const exact = await exactBm25(collection.id, 'xray yak zebra', 4)
    expect(exact.map((row) => row.id)).toEqual([...chunkIds.get('low.md')!, chunkIds.get('high.md')![0]])
    for (const order of [
      ['xray', 'yak', 'zebra'],
      ['zebra', 'yak', 'xray'],
    ]) {
      expect(searchSnapshot(snapshot, order, 0.9, 0.4, 4).ids).toEqual(exact.map((row) => row.id))
    }
  })

  it('gives hybrid searches the rows, scores and ranks of the SQL arms, and nothing for a stale collection', async () => {
    const texts = [
      'Write in plain English for every reader.',
      'Plain language helps readers act.',
      'Use active voice in headings and links.',
      'Headings in sentence case, not title case.',
      'A cotton tee in plain white.',
      'Numbers one to nine are words; 10 and over are numerals.',
      'Link text says where the link goes.',
      'Readers scan headings before they read.',
    ]
    const documents = texts.map((text, i) => ({ sourceId: `h${i}.md`, chunks: [text, `${text} Again.`] }))
    const { collection } = await seedCollection(db.pool, { name: 'memory-hybrid', dimensions: 64 }, documents)
    const target = (await findSearchableCollection(db.pool, 'memory-hybrid'))!
    // Its statements prepared (DB_PREPARED_STATEMENTS): each runs several times on the pool's connections.
    const indexes = new Bm25MemoryIndexes(db.pool, {
      maxBytes: 1_000_000,
      minChunks: 1,
      preparedStatements: true,
    })
    await indexOf(indexes, collection.id)
    const optionsFor = (query: string, lexicalWeight: number) =>
      searchOptionsFor(
        RetrieveRequest.parse({ collection: 'memory-hybrid', query, k: 3, lexicalWeight }),
        { ...testRetrievalSettings, minCandidates: 5 },
        deterministicEmbedding(query, 64),
        target,
      )
    for (const query of ['plain English for readers', 'headings and links', 'numbers']) {
      for (const weight of [0.2, 0.8, 1]) {
        const options =
          weight === 1 ? { ...optionsFor(query, 1), queryVector: undefined } : optionsFor(query, weight)
        const sql = await runSearch(db.pool, target, { ...options, lexicalMaxScored: null })
        const recorded = recording(db.pool)
        const memory = await runSearch(
          recorded.db,
          target,
          options,
          memoryLexicalPlanner(recorded.db, indexes),
        )
        expect(recorded.texts.some((text) => text.includes('bm25_search('))).toBe(false)
        // The lexemes, the rows and (in hybrid searches) the vector arm's candidates.
        expect(recorded.names).toHaveLength(options.queryVector === undefined ? 2 : 3)
        expect(memory.vectorCount).toBe(sql.vectorCount)
        expect(memory.lexicalCount).toBe(sql.lexicalCount)
        expect(memory.rows.map((row) => row.id)).toEqual(sql.rows.map((row) => row.id))
        expect(memory.rows.length).toBeGreaterThan(0)
        for (const [i, row] of memory.rows.entries()) {
          const { lexicalScore, fused, ...rest } = sql.rows[i]!
          const { lexicalScore: memoryLexical, fused: memoryFused, ...memoryRest } = row
          expect(memoryRest).toEqual(rest)
          expect(memoryFused).toBeCloseTo(fused, 12)
          if (lexicalScore === null) expect(memoryLexical).toBeNull()
          else expect(memoryLexical).toBeCloseTo(lexicalScore, 12)
        }
      }
    }
    // A description the collection row no longer matches (re-weighted since): nothing, and no arm counted.
    const stale = { ...target, lexicalWeight: 0.5 }
    const options = optionsFor('plain English', 0.8)
    const staleSql = await runSearch(db.pool, stale, options)
    const staleMemory = await runSearch(db.pool, stale, options, memoryLexicalPlanner(db.pool, indexes))
    expect(staleSql).toEqual({ rows: [], vectorCount: 0, lexicalCount: 0 })
    expect(staleMemory).toEqual(staleSql)
  })

  it('answers retrieve() without bm25_search, and with it for filters, search syntax and collections without an index', async () => {
    const { collection, chunkIds } = await seedCollection(db.pool, { name: 'memory-route' }, [
      {
        sourceId: 'a.md',
        embed: false,
        kind: 'guideline',
        chunks: ['Write in plain English for every reader.'],
      },
      { sourceId: 'b.md', embed: false, kind: 'product', chunks: ['A plain cotton tee for everyday wear.'] },
      { sourceId: 'c.md', embed: false, kind: 'guideline', chunks: ['Use active voice in headings.'] },
    ])
    const recorded = recording(db.pool)
    const indexes = new Bm25MemoryIndexes(recorded.db, { maxBytes: 1_000_000, minChunks: 1 })
    const deps = stubRetrievalDeps(recorded.db, undefined, { bm25Indexes: indexes })
    const ask = (extra: Record<string, unknown> = {}) =>
      retrieve(deps, {
        collection: 'memory-route',
        query: 'Is plain English or active voice better?',
        ...extra,
      })
    const usedSql = () => recorded.texts.some((text) => text.includes('bm25_search('))

    // The first search starts the build and is answered by SQL meanwhile.
    const first = await ask()
    expect(usedSql()).toBe(true)
    await indexes.settled(collection.id)
    recorded.texts.length = 0
    const second = await ask()
    expect(usedSql()).toBe(false)
    expect(recorded.names).toEqual([]) // not prepared unless asked
    expect(second.passages.map((p) => p.sourceId)).toEqual(first.passages.map((p) => p.sourceId))
    // The same scores, but for the order of a floating-point sum.
    for (const [i, passage] of second.passages.entries()) {
      expect(passage.scores.lexical).toBeCloseTo(first.passages[i]!.scores.lexical!, 12)
      expect(passage.scores.fused).toBeCloseTo(first.passages[i]!.scores.fused, 12)
    }
    expect(second.passages[0]!.scores.lexical).toBeGreaterThan(0)
    expect(second.mode).toBe('lexical')

    for (const extra of [
      { filters: { kind: 'guideline' } },
      { query: '"plain English"' },
      { searchSyntax: true },
    ]) {
      recorded.texts.length = 0
      const answer = await ask(extra)
      expect(usedSql()).toBe(true)
      expect(answer.passages.length).toBeGreaterThan(0)
    }
    expect(chunkIds.size).toBe(3)

    // Too many postings for the budget: no index, SQL every time.
    const small = new Bm25MemoryIndexes(db.pool, { maxBytes: 100, minChunks: 1 })
    expect(small.get(collection.id)).toBeUndefined()
    await small.settled(collection.id)
    expect(small.get(collection.id)).toBeUndefined()
    expect(small.reservedBytes).toBe(0)
    // Too few chunks: none either.
    const few = new Bm25MemoryIndexes(db.pool, { maxBytes: 1_000_000, minChunks: 4 })
    few.get(collection.id)
    await few.settled(collection.id)
    expect(few.get(collection.id)).toBeUndefined()
  })

  it('is not used once the text changed, and is rebuilt with the change', async () => {
    const { collection } = await seedCollection(db.pool, { name: 'memory-fresh' }, [
      { sourceId: 'a.md', embed: false, chunks: ['Headings use sentence case.', 'Numbers use numerals.'] },
      { sourceId: 'b.md', embed: false, chunks: ['Dates are written in full.'] },
    ])
    const recorded = recording(db.pool)
    let now = 0
    const indexes = new Bm25MemoryIndexes(recorded.db, {
      maxBytes: 1_000_000,
      minChunks: 1,
      rebuildDelayMs: 5000,
      now: () => now,
    })
    const deps = stubRetrievalDeps(recorded.db, undefined, { bm25Indexes: indexes })
    const ask = (query: string) => retrieve(deps, { collection: 'memory-fresh', query })
    const built = await indexOf(indexes, collection.id)

    // A new chunk with a new word: the index (built before it) must not answer, or the word finds nothing.
    await seedDocumentChunk(collection.id, 'c.md', 'Tables need a caption.')
    recorded.texts.length = 0
    const after = await ask('Do tables need captions?')
    expect(after.passages.map((p) => p.sourceId)).toEqual(['c.md'])
    expect(recorded.texts.some((text) => text.includes('bm25_search('))).toBe(true)
    // Not rebuilt until the collection had no change for rebuildDelayMs: SQL answers meanwhile.
    expect(indexes.reservedBytes).toBe(0)
    now = 4999
    expect(indexes.get(collection.id)).toBeUndefined()
    await indexes.settled(collection.id)
    expect(indexes.get(collection.id)).toBeUndefined()
    now = 5000
    expect(indexes.get(collection.id)).toBeUndefined() // starts the build
    await indexes.settled(collection.id)
    const rebuilt = indexes.get(collection.id)!
    expect(rebuilt).not.toBe(built)
    expect(Number(rebuilt.version)).toBeGreaterThan(Number(built.version))
    recorded.texts.length = 0
    expect((await ask('Do tables need captions?')).passages.map((p) => p.sourceId)).toEqual(['c.md'])
    expect(recorded.texts.some((text) => text.includes('bm25_search('))).toBe(false)

    // Deleting a document: its chunk must not come back from the index.
    await db.pool.query(`DELETE FROM documents WHERE collection_id = $1 AND source_id = 'c.md'`, [
      collection.id,
    ])
    expect((await ask('Do tables need captions?')).passages).toEqual([])
  })

  it('drops a build that the text changed under', async () => {
    const { collection, chunkIds } = await seedWords('memory-race', [
      'one alpha',
      'two beta',
      'three gamma',
      'four delta',
    ])
    const [first] = chunkIds.get('a.md')!
    let pages = 0
    const racing: Queryable = {
      query: (async (text: string, values?: unknown[]) => {
        // After the first chunk was read: its text changes, with as many words (counts alone cannot tell).
        if (text.includes('c.tsv::text') && ++pages === 2) {
          await db.pool.query(`UPDATE chunks SET text = 'one omega' WHERE id = $1`, [first])
        }
        return db.pool.query(text, values)
      }) as Queryable['query'],
    }
    const indexes = new Bm25MemoryIndexes(racing, {
      maxBytes: 1_000_000,
      minChunks: 1,
      pageSize: 1,
      rebuildDelayMs: 0,
    })
    indexes.get(collection.id)
    await indexes.settled(collection.id)
    expect(pages).toBe(2) // stopped at the page after the change, not read to the end (four pages)
    // The first build was dropped (it read "alpha"); with rebuildDelayMs 0 the next get() builds again.
    expect(indexes.get(collection.id)).toBeUndefined()
    await indexes.settled(collection.id)
    const snapshot = indexes.get(collection.id)!
    expect(searchSnapshot(snapshot, ['alpha'], 0.9, 0.4, 10).ids).toEqual([])
    expect(searchSnapshot(snapshot, ['omega'], 0.9, 0.4, 10).ids).toEqual([first])
  })
})

describe('in-process BM25 index upkeep', () => {
  it('waits for the text to stay unchanged before rebuilding, however often it changes', async () => {
    const { collection } = await seedWords('memory-quiet', ['Quiet words here.'])
    let now = 0
    const indexes = new Bm25MemoryIndexes(db.pool, {
      maxBytes: 1_000_000,
      minChunks: 1,
      rebuildDelayMs: 5000,
      now: () => now,
    })
    const built = await indexOf(indexes, collection.id)
    await seedDocumentChunk(collection.id, 'b.md', 'A first change.')
    indexes.stale(built, String(await textVersion(collection.id)))
    now = 4000
    await seedDocumentChunk(collection.id, 'c.md', 'A second change.')
    now = 5000 // 5 s after the first change, 1 s after the second: not quiet yet
    expect(indexes.get(collection.id)).toBeUndefined()
    await indexes.settled(collection.id)
    expect(indexes.get(collection.id)).toBeUndefined()
    expect(indexes.reservedBytes).toBe(0)
    now = 9999
    expect(indexes.get(collection.id)).toBeUndefined()
    await indexes.settled(collection.id)
    expect(indexes.get(collection.id)).toBeUndefined()
    now = 10_000 // 5 s after the build found the second change
    expect(indexes.get(collection.id)).toBeUndefined()
    await indexes.settled(collection.id)
    expect(indexes.get(collection.id)?.chunkCount).toBe(3)
  })

  it('gives the memory of a failed build back, and tells about the failure', async () => {
    const { collection } = await seedWords('memory-fail', ['Failing words here.'])
    const failing: Queryable = {
      query: (async (text: string, values?: unknown[]) => {
        if (text.includes('c.tsv::text')) throw new Error('connection lost')
        return db.pool.query(text, values)
      }) as Queryable['query'],
    }
    const errors: unknown[] = []
    const indexes = new Bm25MemoryIndexes(failing, {
      maxBytes: 1_000_000,
      minChunks: 1,
      onBuildError: (_id, error) => errors.push(error),
    })
    indexes.get(collection.id)
    await indexes.settled(collection.id)
    expect(indexes.get(collection.id)).toBeUndefined()
    expect(indexes.reservedBytes).toBe(0)
    expect(errors).toHaveLength(1)
  })

  it('drops the index searched longest ago to make room, once it has been idle a while', async () => {
    const one = await seedWords('memory-evict-1', ['First collection words.'])
    const two = await seedWords('memory-evict-2', ['Second collection words.'])
    let now = 0
    // Room for one of them: each is 12 · 3 postings + 44 · 1 chunk + 90 · 3 words = 350 bytes while building.
    const indexes = new Bm25MemoryIndexes(db.pool, {
      maxBytes: 500,
      minChunks: 1,
      retryMs: 1000,
      evictAfterMs: 60_000,
      now: () => now,
    })
    await indexOf(indexes, one.collection.id)
    const held = indexes.reservedBytes
    expect(held).toBeGreaterThan(0)
    // The first was searched just now: no room for the second.
    expect(indexes.get(two.collection.id)).toBeUndefined()
    await indexes.settled(two.collection.id)
    expect(indexes.get(two.collection.id)).toBeUndefined()
    expect(indexes.reservedBytes).toBe(held)
    // A minute without a search of the first: it makes way.
    now = 61_000
    expect(indexes.get(two.collection.id)).toBeUndefined()
    await indexes.settled(two.collection.id)
    expect(indexes.get(two.collection.id)).toBeDefined()
    expect(indexes.get(one.collection.id)).toBeUndefined()
    await indexes.close()
  })

  it('leaves questions whose words hold too many postings to bm25_search', async () => {
    const { collection } = await seedWords('memory-broad', [
      'Broad words here.',
      'More broad words.',
      'Narrow one.',
    ])
    const recorded = recording(db.pool)
    const indexes = new Bm25MemoryIndexes(recorded.db, {
      maxBytes: 1_000_000,
      minChunks: 1,
      maxQueryPostings: 3,
    })
    await indexOf(indexes, collection.id)
    const deps = stubRetrievalDeps(recorded.db, undefined, { bm25Indexes: indexes })
    const usedSql = () => recorded.texts.some((text) => text.includes('bm25_search('))
    recorded.texts.length = 0
    await retrieve(deps, { collection: 'memory-broad', query: 'narrow' }) // 1 posting
    expect(usedSql()).toBe(false)
    const broad = await retrieve(deps, { collection: 'memory-broad', query: 'broad words' }) // 4 postings
    expect(usedSql()).toBe(true)
    expect(broad.passages.map((p) => p.sourceId)).toEqual(['a.md'])
  })

  it('stops building when closed, and holds nothing after', async () => {
    const { collection } = await seedWords('memory-close', ['one', 'two', 'three', 'four'])
    const indexes = new Bm25MemoryIndexes(db.pool, { maxBytes: 1_000_000, minChunks: 1, pageSize: 1 })
    indexes.get(collection.id)
    await indexes.close()
    expect(indexes.reservedBytes).toBe(0)
    expect(indexes.get(collection.id)).toBeUndefined()
    await indexes.settled(collection.id)
    expect(indexes.get(collection.id)).toBeUndefined()
  })
})

describe('the text version (migration 0022)', () => {
  it('rises with every change to the indexed text, and not with other updates', async () => {
    const { collection, chunkIds } = await seedWords('memory-version', ['First words.', 'Second words.'])
    const [first] = chunkIds.get('a.md')!
    const v0 = await textVersion(collection.id)
    await db.pool.query('UPDATE chunks SET ordinal = ordinal + 10 WHERE collection_id = $1', [collection.id])
    expect(await textVersion(collection.id)).toBe(v0)
    await db.pool.query(`UPDATE chunks SET text = 'Changed words.' WHERE id = $1`, [first])
    const v1 = await textVersion(collection.id)
    expect(v1).toBeGreaterThan(v0)
    await seedDocumentChunk(collection.id, 'b.md', 'More words.')
    const v2 = await textVersion(collection.id)
    expect(v2).toBeGreaterThan(v1)
    await db.pool.query('DELETE FROM chunks WHERE id = $1', [first])
    expect(await textVersion(collection.id)).toBeGreaterThan(v2)
  })
})

/** A new collection holding one document (a.md) of these chunks, not embedded. */
function seedWords(name: string, chunks: string[]) {
  return seedCollection(db.pool, { name }, [{ sourceId: 'a.md', embed: false, chunks }])
}

/** A document with one chunk in the collection, written with SQL. */
async function seedDocumentChunk(collectionId: number, sourceId: string, text: string): Promise<void> {
  await db.pool.query(
    `WITH d AS (
       INSERT INTO documents (collection_id, source_id, kind, title, content_hash, metadata)
       VALUES ($1, $2, 'guideline', $2, md5($3), '{}') RETURNING id
     )
     INSERT INTO chunks (document_id, collection_id, ordinal, heading_path, text, token_count, content_hash, ts_config)
     SELECT d.id, $1, 0, '', $3, 5, md5($3), 'english' FROM d`,
    [collectionId, sourceId, text],
  )
}
