import type pg from 'pg'
import { type Queryable, withTransaction } from './transaction.js'

/** How the collection ranks: BM25 parameters and the lexical arm's weight in fusion (0–1). */
export interface CollectionRetrieval {
  lexicalWeight: number
  bm25: { k1: number; b: number }
}

export interface CollectionRow {
  id: number
  name: string
  description: string
  embeddingModel: string
  embeddingDimensions: number
  textSearchConfig: string
  retrieval: CollectionRetrieval
  createdAt: Date
  updatedAt: Date
}

const COLUMNS = `id, name, description, embedding_model AS "embeddingModel",
  embedding_dimensions AS "embeddingDimensions", text_search_config::text AS "textSearchConfig",
  json_build_object('lexicalWeight', lexical_weight, 'bm25', json_build_object('k1', bm25_k1, 'b', bm25_b))
    AS retrieval,
  created_at AS "createdAt", updated_at AS "updatedAt"`

/** Settings left out keep their value (on insert: the column defaults, 0.8, k1 0.9, b 0.4). */
export interface RetrievalSettingsInput {
  lexicalWeight?: number
  bm25?: { k1?: number; b?: number }
}

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
    retrieval?: RetrievalSettingsInput
  },
): Promise<CollectionRow> {
  return withTransaction(db, async (client) => {
    const { rows: inserted } = await client.query<{ id: number }>(
      `INSERT INTO collections (name, description, embedding_model, embedding_dimensions, text_search_config)
       VALUES ($1, $2, $3, $4, $5::regconfig) RETURNING id`,
      [
        input.name,
        input.description,
        input.embeddingModel,
        input.embeddingDimensions,
        input.textSearchConfig,
      ],
    )
    const rows = [await updateRetrievalSettings(client, inserted[0]!.id, input.retrieval ?? {})]
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

/** Sets the given retrieval settings of a collection and returns it (undefined if it does not exist). */
export async function updateRetrievalSettings(
  db: Queryable,
  id: number,
  settings: RetrievalSettingsInput,
): Promise<CollectionRow> {
  const { rows } = await db.query<CollectionRow>(
    `UPDATE collections SET lexical_weight = coalesce($2, lexical_weight), bm25_k1 = coalesce($3, bm25_k1),
       bm25_b = coalesce($4, bm25_b), updated_at = CASE WHEN $2::float8 IS NULL AND $3::float8 IS NULL
         AND $4::float8 IS NULL THEN updated_at ELSE now() END
     WHERE id = $1 RETURNING ${COLUMNS}`,
    [id, settings.lexicalWeight ?? null, settings.bm25?.k1 ?? null, settings.bm25?.b ?? null],
  )
  return rows[0]!
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
