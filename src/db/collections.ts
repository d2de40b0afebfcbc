import type pg from 'pg'
import { type Queryable, withTransaction } from './transaction.js'

export interface CollectionRow {
  id: number
  name: string
  description: string
  embeddingModel: string
  embeddingDimensions: number
  textSearchConfig: string
  createdAt: Date
  updatedAt: Date
}

const COLUMNS = `id, name, description, embedding_model AS "embeddingModel",
  embedding_dimensions AS "embeddingDimensions", text_search_config::text AS "textSearchConfig",
  created_at AS "createdAt", updated_at AS "updatedAt"`

/**
 * The HNSW index of one collection. Retrieval must filter with the same expression and predicate
 * (`embedding::vector(N)` and `collection_id = id`) so the planner can use it; both sides call this.
 */
export function hnswIndexName(collectionId: number): string {
  return `chunks_hnsw_c${collectionId}`
}

export function vectorExpression(dimensions: number): string {
  assertSafeInteger(dimensions)
  return `(embedding::vector(${dimensions}))`
}

export async function insertCollection(
  db: pg.Pool | pg.PoolClient,
  input: {
    name: string
    description: string
    embeddingModel: string
    embeddingDimensions: number
    textSearchConfig: string
  },
): Promise<CollectionRow> {
  return withTransaction(db, async (client) => {
    const { rows } = await client.query<CollectionRow>(
      `INSERT INTO collections (name, description, embedding_model, embedding_dimensions, text_search_config)
       VALUES ($1, $2, $3, $4, $5::regconfig) RETURNING ${COLUMNS}`,
      [
        input.name,
        input.description,
        input.embeddingModel,
        input.embeddingDimensions,
        input.textSearchConfig,
      ],
    )
    const collection = rows[0]!
    // DDL cannot take parameters; both interpolated values are integers checked above and by the table.
    assertSafeInteger(collection.id)
    await client.query(
      `CREATE INDEX ${hnswIndexName(collection.id)} ON chunks
       USING hnsw (${vectorExpression(collection.embeddingDimensions)} vector_cosine_ops)
       WHERE collection_id = ${collection.id}`,
    )
    return collection
  })
}

export async function findCollectionByName(db: Queryable, name: string): Promise<CollectionRow | undefined> {
  const { rows } = await db.query<CollectionRow>(`SELECT ${COLUMNS} FROM collections WHERE name = $1`, [name])
  return rows[0]
}

export async function findCollectionById(db: Queryable, id: number): Promise<CollectionRow | undefined> {
  const { rows } = await db.query<CollectionRow>(`SELECT ${COLUMNS} FROM collections WHERE id = $1`, [id])
  return rows[0]
}

export async function listCollections(db: Queryable): Promise<CollectionRow[]> {
  const { rows } = await db.query<CollectionRow>(`SELECT ${COLUMNS} FROM collections ORDER BY name`)
  return rows
}

/** Deleting cascades to documents, chunks and jobs; the partial index goes with it. */
export async function deleteCollection(db: pg.Pool | pg.PoolClient, id: number): Promise<void> {
  assertSafeInteger(id)
  await withTransaction(db, async (client) => {
    await client.query(`DROP INDEX IF EXISTS ${hnswIndexName(id)}`)
    await client.query('DELETE FROM collections WHERE id = $1', [id])
  })
}

export async function isTextSearchConfig(db: Queryable, name: string): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM pg_ts_config WHERE cfgname = $1', [name])
  return rows.length > 0
}

/** Guards the integers written into SQL text (DDL and index predicates cannot take parameters). */
export function assertSafeInteger(value: number): void {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new Error(`expected a non-negative integer, got ${value}`)
}
