import type pg from 'pg'
import { assertSafeInteger, hnswIndexName, vectorExpression } from './collections.js'
import { DEADLOCK_DETECTED, LOCK_NOT_AVAILABLE, pgErrorCode } from './pg-errors.js'
import type { Queryable } from './transaction.js'

/**
 * A collection's HNSW index is costly to keep up row by row (each insert walks the graph) and cheap
 * to build once over loaded rows: on the shared corpora, 5,870 rows inserted into a collection with its
 * index took ten times as long as building it over them afterwards. So ingestion drops it before a load
 * that will at least double the collection (a first load into an empty one, a catalog beside a few
 * guidelines) and builds it afterwards. Meanwhile retrieval scans the collection's vectors exactly: the
 * same answers, slower, which is fine for a collection that small next to what it is being sent.
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
 * Drop the collection's HNSW index before a load of `incoming` documents when the collection holds no
 * more chunks than that (every document makes at least one chunk, so the load at least doubles it) and
 * no more than MAX_STORED_FOR_DROP; true when the index is gone. CONCURRENTLY, so searches of other
 * collections are not blocked; a drop that would wait long (behind another collection's index build,
 * say) gives up instead, and the load keeps the index up row by row.
 */
export async function dropVectorIndexForLoad(
  pool: pg.Pool,
  collectionId: number,
  incoming: number,
): Promise<boolean> {
  assertSafeInteger(collectionId)
  if (incoming < 1) return false
  const client = await pool.connect()
  let healthy = true
  try {
    // Counting stops one past the bound, so a large collection costs no full count.
    const bound = Math.min(incoming, MAX_STORED_FOR_DROP)
    const { rows } = await client.query<{ stored: number }>(
      'SELECT count(*)::int AS stored FROM (SELECT 1 FROM chunks WHERE collection_id = $1 LIMIT $2) c',
      [collectionId, bound + 1],
    )
    if (rows[0]!.stored > bound) return false
    await client.query(`SET lock_timeout = '${DROP_LOCK_TIMEOUT}'`)
    try {
      await client.query(`DROP INDEX CONCURRENTLY IF EXISTS ${hnswIndexName(collectionId)}`)
      return true
    } catch (error) {
      if (!GAVE_UP.has(pgErrorCode(error) ?? '')) throw error
      return false
    } finally {
      await client.query('RESET lock_timeout').catch(() => {
        healthy = false
      })
    }
  } finally {
    client.release(!healthy)
  }
}

/**
 * A collection holding more chunks than this keeps its index through any load: its readers would
 * otherwise scan that many vectors exactly while the load runs.
 */
export const MAX_STORED_FOR_DROP = 50_000
const DROP_LOCK_TIMEOUT = '5s'
const GAVE_UP = new Set([LOCK_NOT_AVAILABLE, DEADLOCK_DETECTED])

/**
 * Build the collection's HNSW index unless a valid one exists; a build interrupted earlier left an
 * invalid one, which is dropped first. CONCURRENTLY keeps writes to other collections going during the
 * build. Only one worker builds a collection's index at a time: another one finding the build under way
 * leaves it to the first ('busy') rather than wait, which could deadlock with the build waiting for it.
 */
export async function ensureVectorIndex(
  pool: pg.Pool,
  collection: { id: number; embeddingDimensions: number },
): Promise<'built' | 'present' | 'busy'> {
  assertSafeInteger(collection.id)
  const client = await pool.connect()
  const lockKeys = [BUILD_LOCK_CLASS, collection.id % 2 ** 31]
  try {
    const { rows } = await client.query<{ locked: boolean }>(
      'SELECT pg_try_advisory_lock($1::int, $2::int) AS locked',
      lockKeys,
    )
    if (!rows[0]!.locked) return 'busy'
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
