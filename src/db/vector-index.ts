import type pg from 'pg'
import { assertSafeInteger, hnswIndexName, vectorExpression } from './collections.js'
import type { Queryable } from './transaction.js'

/**
 * A collection's HNSW index is costly to keep up row by row (each insert walks the graph) and cheap
 * to build once over loaded rows. So ingestion drops it before the first load into an empty
 * collection and builds it afterwards. Meanwhile retrieval scans the collection's vectors exactly: the
 * same answers, slower, which is fine for a collection that is being filled for the first time.
 */
export type VectorIndexState = 'valid' | 'invalid' | 'missing'

// Serialises builds of one collection's index across workers (with the collection id as second key).
const BUILD_LOCK_CLASS = 72_015_551

export async function vectorIndexState(db: Queryable, collectionId: number): Promise<VectorIndexState> {
  const { rows } = await db.query<{ valid: boolean }>(
    `SELECT i.indisvalid AS valid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid
     WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace`,
    [hnswIndexName(collectionId)],
  )
  if (rows.length === 0) return 'missing'
  return rows[0]!.valid ? 'valid' : 'invalid'
}

/**
 * Drop the collection's HNSW index if the collection has no chunks; true when the index is gone.
 * CONCURRENTLY: searches of other collections are not blocked while it waits for running queries.
 */
export async function dropVectorIndexIfEmpty(pool: pg.Pool, collectionId: number): Promise<boolean> {
  assertSafeInteger(collectionId)
  const { rows } = await pool.query<{ empty: boolean }>(
    'SELECT NOT EXISTS (SELECT 1 FROM chunks WHERE collection_id = $1) AS empty',
    [collectionId],
  )
  if (!rows[0]!.empty) return false
  await pool.query(`DROP INDEX CONCURRENTLY IF EXISTS ${hnswIndexName(collectionId)}`)
  return true
}

/**
 * Build the collection's HNSW index unless a valid one exists; a build interrupted earlier left an
 * invalid one, which is dropped first. CONCURRENTLY keeps writes to other collections going during the
 * build; the advisory lock makes a second worker wait and then find the index built.
 */
export async function ensureVectorIndex(
  pool: pg.Pool,
  collection: { id: number; embeddingDimensions: number },
): Promise<'built' | 'present'> {
  assertSafeInteger(collection.id)
  const client = await pool.connect()
  const lockKeys = [BUILD_LOCK_CLASS, collection.id % 2 ** 31]
  try {
    await client.query('SELECT pg_advisory_lock($1::int, $2::int)', lockKeys)
    try {
      const state = await vectorIndexState(client, collection.id)
      if (state === 'valid') return 'present'
      const name = hnswIndexName(collection.id)
      if (state === 'invalid') await client.query(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`)
      await client.query(
        `CREATE INDEX CONCURRENTLY IF NOT EXISTS ${name} ON chunks
         USING hnsw (${vectorExpression(collection.embeddingDimensions)} vector_cosine_ops)
         WHERE collection_id = ${collection.id}`,
      )
      return 'built'
    } finally {
      await client.query('SELECT pg_advisory_unlock($1::int, $2::int)', lockKeys)
    }
  } finally {
    client.release()
  }
}
