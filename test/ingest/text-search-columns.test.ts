import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Database } from '../../src/db/pool.js'
import { seedCollection } from '../support/seed-chunks.js'
import { createTestDatabase } from '../support/test-db.js'

/**
 * Migration 0010 turned the generated `tsv` and `word_count` into columns one trigger fills (one
 * to_tsvector a row instead of two); migration 0015 added `bm25_terms` (the BM25 arm's sparse vector) to
 * the same trigger. They must stay exactly what the generated columns were, whoever writes the row and
 * however.
 */
let db: Database
let collectionId: number

beforeAll(async () => {
  db = await createTestDatabase()
  const seeded = await seedCollection(db.pool, { name: 'text-search-columns' }, [
    {
      sourceId: 'voice.md',
      embed: false,
      chunks: [
        {
          headingPath: 'Voice > Tone',
          text: 'Write plainly: plain words, plainly written, for busy readers.',
        },
        { text: 'The the the of in' },
        { text: '' },
      ],
    },
  ])
  collectionId = seeded.collection.id
})

afterAll(async () => {
  await db?.close()
})

/** Rows whose stored columns differ from what the former generated expressions compute. */
async function drifted(): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM chunks
     WHERE collection_id = $1 AND (
       tsv IS DISTINCT FROM to_tsvector(ts_config, heading_path || ' ' || text)
       OR word_count IS DISTINCT FROM tsvector_word_count(to_tsvector(ts_config, heading_path || ' ' || text))
       OR bm25_terms IS DISTINCT FROM bm25_term_vector(to_tsvector(ts_config, heading_path || ' ' || text)))`,
    [collectionId],
  )
  return rows[0]!.n
}

describe('chunk text search columns', () => {
  it('are derived from the heading path and text on insert, stop words left out of the word count', async () => {
    expect(await drifted()).toBe(0)
    const { rows } = await db.pool.query<{ text: string; words: number }>(
      'SELECT text, word_count AS words FROM chunks WHERE collection_id = $1 ORDER BY ordinal',
      [collectionId],
    )
    // voice, tone, write, plainly, plain, words, plainly, written, busy, readers: 10 ('for' is a stop word).
    expect(rows.map((row) => row.words)).toEqual([10, 0, 0])
  })

  it('follow an update of the text, the heading path or the configuration', async () => {
    await db.pool.query(
      "UPDATE chunks SET text = text || ' Add a second sentence.' WHERE collection_id = $1 AND ordinal = 0",
      [collectionId],
    )
    await db.pool.query(
      "UPDATE chunks SET heading_path = 'Grammar' WHERE collection_id = $1 AND ordinal = 1",
      [collectionId],
    )
    await db.pool.query("UPDATE chunks SET ts_config = 'simple' WHERE collection_id = $1 AND ordinal = 2", [
      collectionId,
    ])
    expect(await drifted()).toBe(0)
  })

  it('cannot be written directly: the trigger recomputes what a statement sets', async () => {
    await db.pool.query(
      "UPDATE chunks SET tsv = 'forged'::tsvector, word_count = 99, bm25_terms = '{1:5}/805306368' WHERE collection_id = $1",
      [collectionId],
    )
    expect(await drifted()).toBe(0)
    // The BM25 vector alone (the trigger's column list names it, so this statement fires it too).
    await db.pool.query("UPDATE chunks SET bm25_terms = '{1:5}/805306368' WHERE collection_id = $1", [
      collectionId,
    ])
    expect(await drifted()).toBe(0)
    const { rows } = await db.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM chunks WHERE collection_id = $1 AND tsv @@ 'forged'::tsquery",
      [collectionId],
    )
    expect(rows[0]!.n).toBe(0)
  })
})
