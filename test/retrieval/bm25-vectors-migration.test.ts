import { afterAll, describe, expect, it } from 'vitest'
import { loadMigrations, migrate } from '../../src/db/migrate.js'
import type { Database } from '../../src/db/pool.js'
import { createTestDatabase } from '../support/test-db.js'

let db: Database | undefined
afterAll(async () => {
  await db?.close()
})

describe('migration 0015 (BM25 term vectors)', () => {
  it('fills the vectors of chunks stored before it, and leaves the term statistics as they were', async () => {
    db = await createTestDatabase({ migrate: false })
    const all = loadMigrations()
    await migrate(
      db.pool,
      all.filter((m) => m.version < 15),
    )
    const { rows } = await db.pool.query<{ id: number }>(
      `INSERT INTO collections (name, embedding_model, embedding_dimensions, text_search_config)
       VALUES ('before-0015', 'm', 3, 'english') RETURNING id`,
    )
    const collectionId = rows[0]!.id
    await db.pool.query(
      `WITH d AS (
         INSERT INTO documents (collection_id, source_id, kind, content_hash) VALUES ($1, 'a.md', 'guideline', 'h')
         RETURNING id
       )
       INSERT INTO chunks (document_id, collection_id, ordinal, heading_path, text, token_count, content_hash, ts_config)
       SELECT d.id, $1, o, 'Colour', t, 3, md5(t), 'english'
       FROM d, unnest(ARRAY['Navy navy teal', 'Plain words'], ARRAY[0, 1]) AS u(t, o)`,
      [collectionId],
    )
    const statistics = () =>
      db!.pool.query(
        `SELECT (SELECT row(chunk_count, word_count)::text FROM collection_text_stats WHERE collection_id = $1) AS totals,
           (SELECT json_agg(json_build_array(term, chunk_count) ORDER BY term) FROM collection_terms
            WHERE collection_id = $1) AS terms`,
        [collectionId],
      )
    const before = (await statistics()).rows[0]

    await migrate(db.pool, all)
    const { rows: vectors } = await db.pool.query<{ stale: number; filled: number }>(
      `SELECT count(*) FILTER (WHERE bm25_terms IS DISTINCT FROM bm25_term_vector(tsv))::int AS stale,
         count(*) FILTER (WHERE bm25_terms <> '{}/805306368')::int AS filled
       FROM chunks WHERE collection_id = $1`,
      [collectionId],
    )
    expect(vectors[0]).toEqual({ stale: 0, filled: 2 })
    expect((await statistics()).rows[0]).toEqual(before)
  })
})
