import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { replaceChunks } from '../../src/db/chunks.js'
import type { Database } from '../../src/db/pool.js'
import { skewedWordCorpus } from '../support/random-corpus.js'
import { seedCollection } from '../support/seed-chunks.js'
import { createTestDatabase } from '../support/test-db.js'

let db: Database

beforeAll(async () => {
  db = await createTestDatabase()
})

afterAll(async () => {
  await db?.close()
})

interface Hit {
  chunkId: number
  bm25: number
}

async function bm25(
  collectionId: number,
  query: string,
  options: {
    k1?: number
    b?: number
    limit?: number
    mustMatch?: string
    relax?: boolean
    maxCandidates?: number
  } = {},
): Promise<Hit[]> {
  const { rows } = await db.pool.query<Hit>(
    `SELECT chunk_id AS "chunkId", bm25 FROM bm25_search($1, 'english', $2,
       CASE WHEN $3::text IS NULL THEN NULL ELSE websearch_to_tsquery('english', $3::text) END, $4,
       $5, $6, $7, NULL, NULL, NULL, $8)`,
    [
      collectionId,
      query,
      options.mustMatch ?? null,
      options.relax ?? false,
      options.k1 ?? 0.9,
      options.b ?? 0.4,
      options.limit ?? 100,
      options.maxCandidates ?? null,
    ],
  )
  return rows
}

/** The statistics as the triggers keep them, and as a full recount of the chunks says they should be. */
async function statistics(pool: pg.Pool | pg.PoolClient, collectionId: number) {
  const kept = await pool.query(
    `SELECT (SELECT row(chunk_count, word_count)::text FROM collection_text_stats WHERE collection_id = $1) AS totals,
       (SELECT coalesce(json_agg(json_build_array(term, chunk_count) ORDER BY term), '[]') FROM collection_terms
        WHERE collection_id = $1) AS terms`,
    [collectionId],
  )
  const recount = await pool.query(
    `SELECT (SELECT row(count(*), coalesce(sum(word_count), 0))::text FROM chunks WHERE collection_id = $1) AS totals,
       (SELECT coalesce(json_agg(json_build_array(term, n) ORDER BY term), '[]') FROM (
          SELECT u.lexeme AS term, count(*) AS n FROM chunks c, unnest(c.tsv) u WHERE c.collection_id = $1 GROUP BY 1
        ) t) AS terms`,
    [collectionId],
  )
  // The BM25 vectors (migration 0015) are per chunk: each must be what its text gives now.
  const vectors = await pool.query<{ stale: number }>(
    `SELECT count(*)::int AS stale FROM chunks WHERE collection_id = $1
       AND bm25_terms IS DISTINCT FROM bm25_term_vector(to_tsvector(ts_config, heading_path || ' ' || text))`,
    [collectionId],
  )
  expect(vectors.rows[0]!.stale).toBe(0)
  return { kept: kept.rows[0], recount: recount.rows[0] }
}

describe('BM25 scoring', () => {
  let collectionId: number
  let ids: Map<string, number[]>

  beforeAll(async () => {
    const seeded = await seedCollection(db.pool, { name: 'bm25-arith' }, [
      { sourceId: 'repeat.md', embed: false, chunks: ['risk risk risk risk risk risk'] },
      { sourceId: 'all.md', embed: false, chunks: ['The cardiac risk of smoking in older patients'] },
      { sourceId: 'short.md', embed: false, chunks: ['Smoking patients'] },
    ])
    collectionId = seeded.collection.id
    ids = seeded.chunkIds
  })

  it('scores with idf, saturated term frequency and length normalisation, as computed by hand', async () => {
    // N = 3 chunks of 6, 5 and 2 indexed words (stop words "the", "of", "in" are not counted): avg 13/3.
    // risk, smoke and patient each occur in 2 chunks: idf = ln(1 + (3 − 2 + 0.5) / (2 + 0.5)) = ln 1.6.
    const idf = Math.log(1.6)
    const part = (tf: number, length: number) => (tf * 1.9) / (tf + 0.9 * (0.6 + (0.4 * length) / (13 / 3)))
    const hits = await bm25(collectionId, 'What is the risk of smoking for patients?')
    const score = new Map(hits.map((h) => [h.chunkId, h.bm25]))
    expect(score.get(ids.get('all.md')![0]!)).toBeCloseTo(3 * idf * part(1, 5), 12)
    expect(score.get(ids.get('short.md')![0]!)).toBeCloseTo(2 * idf * part(1, 2), 12)
    expect(score.get(ids.get('repeat.md')![0]!)).toBeCloseTo(idf * part(6, 6), 12)
    // One text repeating a word six times no longer outranks one holding every word once.
    expect(hits.map((h) => h.chunkId)).toEqual(['all.md', 'short.md', 'repeat.md'].map((s) => ids.get(s)![0]))
  })

  it('takes k1 and b from the caller', async () => {
    const idf = Math.log(1.6)
    const [binary] = await bm25(collectionId, 'risk', { k1: 0, b: 0.4, limit: 1 })
    expect(binary!.bm25).toBeCloseTo(idf, 12) // k1 = 0: term frequency does not matter at all
    const noLength = await bm25(collectionId, 'risk', { k1: 1.2, b: 0 })
    const repeat = noLength.find((h) => h.chunkId === ids.get('repeat.md')![0])!
    expect(repeat.bm25).toBeCloseTo((idf * 6 * 2.2) / (6 + 1.2), 12)
  })

  it('finds nothing for a query without indexed words, and nothing in an empty collection', async () => {
    expect(await bm25(collectionId, 'the of and')).toEqual([])
    const empty = await seedCollection(db.pool, { name: 'bm25-empty' })
    expect(await bm25(empty.collection.id, 'risk')).toEqual([])
  })

  it('applies search syntax as a filter, and relaxes it when nothing matches only if asked', async () => {
    const phrase = await bm25(collectionId, '"older smoking"', { mustMatch: '"older smoking"' })
    expect(phrase).toEqual([])
    const relaxed = await bm25(collectionId, '"older smoking"', { mustMatch: '"older smoking"', relax: true })
    expect(relaxed.map((h) => h.chunkId)).toEqual([ids.get('all.md')![0], ids.get('short.md')![0]])
    const excluded = await bm25(collectionId, 'smoking -older', { mustMatch: 'smoking -older' })
    expect(excluded.map((h) => h.chunkId)).toEqual([ids.get('short.md')![0]])
  })
})

describe('BM25 term vectors', () => {
  it('hold each distinct word once, at hash × 3 + its term-frequency bucket (1, 2, 3 or more)', async () => {
    const { collection, chunkIds } = await seedCollection(db.pool, { name: 'bm25-vectors' }, [
      {
        sourceId: 'a.md',
        embed: false,
        chunks: ['Risk risk risk risk; smoking, smoked; patient', 'The of and', 'Navy'],
      },
    ])
    const { rows } = await db.pool.query<{ id: number; terms: string }>(
      'SELECT id, bm25_terms::text AS terms FROM chunks WHERE collection_id = $1',
      [collection.id],
    )
    const stored = new Map(rows.map((row) => [Number(row.id), row.terms]))
    const index = async (word: string, bucket: number) => {
      const { rows } = await db.pool.query<{ i: string }>(
        'SELECT ((hashtext($1) & 268435455)::bigint * 3 + $2)::text AS i',
        [word, bucket],
      )
      return Number(rows[0]!.i)
    }
    // risk × 4 (bucket 3), smoke × 2 (smoking, smoked: bucket 2), patient × 1.
    const expected = [await index('risk', 3), await index('smoke', 2), await index('patient', 1)]
      .sort((a, b) => a - b)
      .map((i) => `${i}:1`)
    const [first, stopWords, navy] = chunkIds.get('a.md')!
    expect(stored.get(first!)).toBe(`{${expected.join(',')}}/805306368`)
    expect(stored.get(stopWords!)).toBe('{}/805306368')
    expect(stored.get(navy!)).toBe(`{${await index('navi', 1)}:1}/805306368`)
  })
})

describe('BM25 early termination', () => {
  it('returns exactly the top of the full ranking, whatever the limit', async () => {
    // A corpus with common and rare words, so pruning has common words to skip.
    const { words, documents } = skewedWordCorpus({
      prefix: 'word',
      words: 60,
      documents: 300,
      seed: 7,
      skew: 3,
      maxLength: 40,
    })
    const { collection } = await seedCollection(db.pool, { name: 'bm25-prune' }, documents)
    for (const query of [words.slice(0, 6), [words[0]!, words[40]!, words[59]!], words.slice(20, 35)]) {
      const full = await bm25(collection.id, query.join(' '), { limit: 1000 })
      for (const limit of [1, 3, 10, 40]) {
        const top = await bm25(collection.id, query.join(' '), { limit })
        expect(top).toEqual(full.slice(0, limit))
        // A cap that every word fits under: one pass over all of them (migration 0017), the same answer.
        const uncapped = await bm25(collection.id, query.join(' '), { limit, maxCandidates: 1_000_000 })
        expect(uncapped.map((h) => h.chunkId)).toEqual(top.map((h) => h.chunkId))
        for (const [j, hit] of uncapped.entries()) expect(hit.bm25).toBeCloseTo(top[j]!.bm25, 9)
      }
    }
  })
})

describe('BM25 candidate cap', () => {
  it('ranks exactly the chunks holding the rarest word or two of the words the pair budget allows, every word counting', async () => {
    const { words, documents } = skewedWordCorpus({
      prefix: 'capword',
      words: 40,
      documents: 200,
      seed: 11,
      skew: 2,
      maxLength: 30,
    })
    const { collection } = await seedCollection(db.pool, { name: 'bm25-cap' }, documents)
    const query = [words[0]!, words[3]!, words[12]!, words[25]!, words[39]!].join(' ')
    const full = await bm25(collection.id, query, { limit: 1000 })
    // The query's words rarest first (as bm25_search takes them), with the chunks holding each.
    const { rows: terms } = await db.pool.query<{ df: number; chunks: number[] }>(
      `SELECT t.chunk_count::int AS df, array(
         SELECT c.id FROM chunks c WHERE c.collection_id = $1 AND c.tsv @@ lexemes_any_tsquery(ARRAY[t.term])
       )::int[] AS chunks
       FROM collection_terms t
       WHERE t.collection_id = $1 AND t.term IN (SELECT lexeme FROM unnest(to_tsvector('english', $2)))
       ORDER BY t.chunk_count, t.term`,
      [collection.id, query],
    )
    expect(terms).toHaveLength(5)
    const totals = terms.map((_, i) => terms.slice(0, i + 1).reduce((sum, t) => sum + t.df, 0))
    /** How many of the rarest words fit under a budget of postings (always at least the rarest). */
    const fitting = (budget: number) => Math.max(1, totals.filter((total) => total <= budget).length)
    /** The chunks holding any of the first n words, or at least two of the first m. */
    const holding = (n: number, m: number) => {
      const count = new Map<number, number>()
      for (const term of terms.slice(0, m))
        for (const id of term.chunks) count.set(id, (count.get(id) ?? 0) + 1)
      const ids = new Set([...count].filter(([, k]) => k >= 2).map(([id]) => id))
      for (const term of terms.slice(0, n)) for (const id of term.chunks) ids.add(id)
      return ids
    }
    const seen = { exact: 0, pairs: 0, widened: 0, leftOut: 0 }
    // Caps from below the rarest word's chunks to above all the words' postings.
    for (const cap of [1, ...totals.flatMap((total) => [total - 1, total]), totals.at(-1)! * 2]) {
      const single = fitting(cap)
      const paired = Math.max(single, fitting(Math.min(6 * cap, cap + 10_000)))
      for (const limit of [3, 10, 1000]) {
        const capped = await bm25(collection.id, query, { limit, maxCandidates: cap })
        let expected: Hit[]
        if (single === terms.length) {
          // Every word fits: one pass over all of them, the exact top.
          expected = full.slice(0, limit)
          seen.exact++
        } else {
          const first = holding(1, paired)
          const firstHits = full.filter((hit) => first.has(hit.chunkId))
          if (paired >= 2 && firstHits.length >= limit) {
            expected = firstHits.slice(0, limit)
            seen.pairs++
            if (firstHits.length < full.length) seen.leftOut++
          } else {
            // Too few: the pass of the words the cap allows, the pairs added.
            const wider = holding(single, paired)
            expected = full.filter((hit) => wider.has(hit.chunkId)).slice(0, limit)
            seen.widened++
          }
        }
        // Scores agree to float precision: the sum adds the words in whatever order the join yields.
        expect(capped.map((h) => h.chunkId)).toEqual(expected.map((h) => h.chunkId))
        for (const [j, hit] of capped.entries()) expect(hit.bm25).toBeCloseTo(expected[j]!.bm25, 9)
      }
    }
    // Each way the cap can go was taken, and the pairs pass did leave out chunks holding a query word.
    expect(seen.exact).toBeGreaterThan(0)
    expect(seen.pairs).toBeGreaterThan(0)
    expect(seen.widened).toBeGreaterThan(0)
    expect(seen.leftOut).toBeGreaterThan(0)
  })
  it('lets the pairs read 6 × the cap in postings, and never more than 10,000 past it', async () => {
    const { rows } = await db.pool.query<{ budget: string }>(
      'SELECT bm25_pair_budget(c)::text AS budget FROM unnest(ARRAY[1, 100, 2000, 2001, 16000]) c',
    )
    expect(rows.map((r) => Number(r.budget))).toEqual([6, 600, 12_000, 12_001, 26_000])
  })

  it("keeps the rarest word's chunks, and leaves out a chunk holding one other word, however well it scores", async () => {
    // Rarest first: rareword (1 chunk), xword (3), yword (6), zword (10). A holds the rarest word alone,
    // B only xword (three times): both would make the full top 4.
    const texts: Record<string, string> = {
      A: 'rareword',
      B: 'xword xword xword',
      C1: 'xword yword',
      C2: 'xword yword zword',
      ...Object.fromEntries([1, 2, 3, 4].map((i) => [`D${i}`, 'yword zword'])),
      ...Object.fromEntries([1, 2, 3, 4, 5].map((i) => [`E${i}`, 'zword filler'])),
      ...Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`F${i}`, 'filler text'])),
    }
    const { collection, chunkIds } = await seedCollection(
      db.pool,
      { name: 'bm25-pairs' },
      Object.entries(texts).map(([sourceId, text]) => ({ sourceId, embed: false, chunks: [text] })),
    )
    const id = (sourceId: string) => chunkIds.get(sourceId)![0]!
    const query = 'rareword xword yword zword'
    const full = await bm25(collection.id, query, { limit: 100 })
    expect(full.slice(0, 4).map((h) => h.chunkId)).toEqual(expect.arrayContaining([id('A'), id('B')]))
    // A cap of 4 postings allows rareword and xword; 6 × 4 all four words, for pairs.
    const capped = await bm25(collection.id, query, { limit: 4, maxCandidates: 4 })
    const singles = new Set([id('B'), ...[1, 2, 3, 4, 5].map((i) => id(`E${i}`))])
    expect(capped.map((h) => h.chunkId)).toEqual(
      full
        .filter((hit) => !singles.has(hit.chunkId))
        .slice(0, 4)
        .map((h) => h.chunkId),
    )
    expect(capped.map((h) => h.chunkId)).toContain(id('A'))
  })
})

describe('term statistics', () => {
  it('stay equal to a recount after inserts, re-ingests, text updates and deletions', async () => {
    const { collection, chunkIds } = await seedCollection(db.pool, { name: 'bm25-stats' }, [
      { sourceId: 'a.md', embed: false, chunks: ['Teal and navy are brand colours', 'Navy navy navy'] },
      { sourceId: 'b.md', embed: false, chunks: ['Write in plain English'] },
    ])
    const first = await statistics(db.pool, collection.id)
    expect(first.kept).toEqual(first.recount)
    expect(first.kept.totals).toBe('(3,10)')

    const [documentId] = (
      await db.pool.query('SELECT id FROM documents WHERE collection_id = $1 AND source_id = $2', [
        collection.id,
        'a.md',
      ])
    ).rows.map((r) => r.id)
    const chunk = (text: string, ordinal: number) => ({
      documentId,
      ordinal,
      headingPath: '',
      text,
      tokenCount: 3,
      contentHash: text,
      embedding: null,
    })
    await replaceChunks(
      db.pool,
      { collectionId: collection.id, textSearchConfig: 'english', embeddingModel: null },
      [documentId],
      [chunk('Teal only', 0)],
    )
    const reingested = await statistics(db.pool, collection.id)
    expect(reingested.kept).toEqual(reingested.recount)
    expect(reingested.kept.terms).toEqual([
      ['english', 1],
      ['plain', 1],
      ['teal', 1],
      ['write', 1],
    ])

    await db.pool.query("UPDATE chunks SET text = 'Write in plain words, plainly' WHERE id = $1", [
      chunkIds.get('b.md')![0],
    ])
    await db.pool.query('UPDATE chunks SET ordinal = ordinal + 10 WHERE collection_id = $1', [collection.id])
    const updated = await statistics(db.pool, collection.id)
    expect(updated.kept).toEqual(updated.recount)
    expect(updated.kept.totals).toBe('(2,5)') // teal; write plain word plain

    await db.pool.query("DELETE FROM documents WHERE collection_id = $1 AND source_id = 'b.md'", [
      collection.id,
    ])
    const deleted = await statistics(db.pool, collection.id)
    expect(deleted.kept).toEqual(deleted.recount)
    expect(deleted.kept).toEqual({ totals: '(1,1)', terms: [['teal', 1]] })
  })

  it('stay equal to a recount when several jobs write the same collection at once', async () => {
    const { collection } = await seedCollection(db.pool, { name: 'bm25-concurrent' }, [
      { sourceId: 'seed.md', embed: false, chunks: ['shared words here'] },
    ])
    const { rows } = await db.pool.query<{ id: number }>(
      `INSERT INTO documents (collection_id, source_id, kind, content_hash)
       SELECT $1, 'job-' || i, 'guideline', 'h' FROM generate_series(1, 8) i RETURNING id`,
      [collection.id],
    )
    const target = { collectionId: collection.id, textSearchConfig: 'english', embeddingModel: null }
    const write = async (documentId: number, round: number) => {
      const client = await db.pool.connect()
      try {
        await client.query('BEGIN')
        await replaceChunks(
          client,
          target,
          [documentId],
          [
            {
              documentId,
              ordinal: 0,
              headingPath: '',
              text: `shared words round${round} doc${documentId}`,
              tokenCount: 4,
              contentHash: `${round}`,
              embedding: null,
            },
            {
              documentId,
              ordinal: 1,
              headingPath: '',
              text: `more shared text ${round}`,
              tokenCount: 4,
              contentHash: `x${round}`,
              embedding: null,
            },
          ],
        )
        await client.query('COMMIT')
      } catch (error) {
        await client.query('ROLLBACK')
        throw error
      } finally {
        client.release()
      }
    }
    for (const round of [1, 2, 3]) await Promise.all(rows.map((row) => write(row.id, round)))
    const after = await statistics(db.pool, collection.id)
    expect(after.kept).toEqual(after.recount)
    expect(after.kept.totals).toBe('(17,58)')
  })

  it('are dropped with their collection', async () => {
    const { collection } = await seedCollection(db.pool, { name: 'bm25-dropped' }, [
      { sourceId: 'a.md', embed: false, chunks: ['gone soon'] },
    ])
    await db.pool.query('DELETE FROM collections WHERE id = $1', [collection.id])
    const { rows } = await db.pool.query(
      `SELECT (SELECT count(*) FROM collection_terms WHERE collection_id = $1)::int
         + (SELECT count(*) FROM collection_text_stats WHERE collection_id = $1)::int AS n`,
      [collection.id],
    )
    expect(rows[0].n).toBe(0)
  })
})
