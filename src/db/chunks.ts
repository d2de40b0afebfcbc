import type { Queryable } from './transaction.js'
import { vectorArrayParam } from './vector-binary.js'

export interface ChunkInsert {
  documentId: number
  ordinal: number
  headingPath: string
  text: string
  tokenCount: number
  contentHash: string
  /** A fresh vector, or null to reuse a stored one with the same hash (or stay lexical-only). */
  embedding: number[] | null
}

/** Which of these chunk hashes already have an embedding from `model` in the collection. */
export async function findEmbeddedHashes(
  db: Queryable,
  collectionId: number,
  model: string,
  hashes: string[],
): Promise<Set<string>> {
  if (hashes.length === 0) return new Set()
  const { rows } = await db.query<{ hash: string }>(
    `SELECT DISTINCT content_hash AS hash FROM chunks
     WHERE collection_id = $1 AND embedding_model = $2 AND content_hash = ANY($3::text[]) AND embedding IS NOT NULL`,
    [collectionId, model, hashes],
  )
  return new Set(rows.map((row) => row.hash))
}

/**
 * Replace the chunk sets of these documents (`documentIds`: those that may already have chunks; new
 * documents need not be listed). Call inside the transaction that upserts them so readers
 * see the old set or the new one, never a mix. The old chunks are first moved to negative ordinals
 * rather than deleted, so the insert can still copy their embeddings when a text is unchanged; chunks
 * without a fresh vector take one stored under the same (collection, hash, model) when there is one.
 */
export async function replaceChunks(
  db: Queryable,
  target: { collectionId: number; textSearchConfig: string; embeddingModel: string | null },
  documentIds: number[],
  chunks: ChunkInsert[],
): Promise<{ pending: number; reused: number }> {
  if (documentIds.length > 0) {
    await db.query(
      'UPDATE chunks SET ordinal = -ordinal - 1 WHERE document_id = ANY($1::bigint[]) AND ordinal >= 0',
      [documentIds],
    )
  }
  const { rows } = await db.query<{ pending: number }>(
    `WITH inserted AS (
       INSERT INTO chunks (document_id, collection_id, ordinal, heading_path, text, token_count, content_hash,
         embedding, embedding_model, ts_config)
       SELECT n.document_id, $1, n.ordinal, n.heading_path, n.text, n.token_count, n.content_hash,
         e.embedding, CASE WHEN e.embedding IS NULL THEN NULL ELSE $2::text END, $3::regconfig
       FROM unnest($4::bigint[], $5::int[], $6::text[], $7::text[], $8::int[], $9::text[], $10::vector[])
         AS n(document_id, ordinal, heading_path, text, token_count, content_hash, fresh)
       CROSS JOIN LATERAL (
         SELECT coalesce(n.fresh, (
           SELECT c.embedding FROM chunks c
           WHERE $2::text IS NOT NULL AND c.collection_id = $1 AND c.content_hash = n.content_hash
             AND c.embedding_model = $2 AND c.embedding IS NOT NULL
           LIMIT 1)) AS embedding
       ) e
       RETURNING embedding IS NULL AS pending
     )
     SELECT count(*) FILTER (WHERE pending)::int AS pending FROM inserted`,
    [
      target.collectionId,
      target.embeddingModel,
      target.textSearchConfig,
      chunks.map((c) => c.documentId),
      chunks.map((c) => c.ordinal),
      chunks.map((c) => c.headingPath),
      chunks.map((c) => c.text),
      chunks.map((c) => c.tokenCount),
      chunks.map((c) => c.contentHash),
      await vectorArrayParam(
        db,
        chunks.map((c) => c.embedding),
      ),
    ],
  )
  if (documentIds.length > 0) {
    await db.query('DELETE FROM chunks WHERE document_id = ANY($1::bigint[]) AND ordinal < 0', [documentIds])
  }
  const pending = rows[0]?.pending ?? 0
  const fresh = chunks.filter((c) => c.embedding !== null).length
  return { pending, reused: chunks.length - fresh - pending }
}

export interface UnembeddedChunk {
  id: number
  headingPath: string
  text: string
  contentHash: string
}

/** Chunks stored without an embedding (no provider at the time), in id order after `afterId`. */
export async function listUnembeddedChunks(
  db: Queryable,
  collectionId: number,
  afterId: number,
  limit: number,
): Promise<UnembeddedChunk[]> {
  const { rows } = await db.query<UnembeddedChunk>(
    `SELECT id, heading_path AS "headingPath", text, content_hash AS "contentHash" FROM chunks
     WHERE collection_id = $1 AND embedding IS NULL AND id > $2 ORDER BY id LIMIT $3`,
    [collectionId, afterId, limit],
  )
  return rows
}

/** Give unembedded chunks the stored embedding of an identical text, without calling the provider. */
export async function copyStoredEmbeddings(
  db: Queryable,
  collectionId: number,
  model: string,
): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE chunks c SET embedding = s.embedding, embedding_model = s.embedding_model
     FROM (SELECT DISTINCT ON (content_hash) content_hash, embedding, embedding_model FROM chunks
           WHERE collection_id = $1 AND embedding_model = $2 AND embedding IS NOT NULL
           ORDER BY content_hash, id) s
     WHERE c.collection_id = $1 AND c.embedding IS NULL AND c.content_hash = s.content_hash`,
    [collectionId, model],
  )
  return rowCount ?? 0
}

/** Fill in embeddings; a chunk replaced meanwhile is simply not found. */
export async function setChunkEmbeddings(
  db: Queryable,
  model: string,
  updates: { id: number; embedding: number[] }[],
): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE chunks c SET embedding = u.embedding, embedding_model = $1
     FROM unnest($2::bigint[], $3::vector[]) AS u(id, embedding)
     WHERE c.id = u.id AND c.embedding IS NULL`,
    [
      model,
      updates.map((u) => u.id),
      await vectorArrayParam(
        db,
        updates.map((u) => u.embedding),
      ),
    ],
  )
  return rowCount ?? 0
}

/** Collections with chunks still waiting for an embedding. */
export async function collectionsWithUnembeddedChunks(db: Queryable): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(
    'SELECT DISTINCT collection_id AS id FROM chunks WHERE embedding IS NULL ORDER BY collection_id',
  )
  return rows.map((row) => row.id)
}

export interface StoredChunk {
  id: number
  ordinal: number
  headingPath: string
  text: string
  tokenCount: number
  contentHash: string
  /** The model that made the chunk's embedding; null while it has none (lexical only). */
  embeddingModel: string | null
}

/** A page of one document's chunks in reading order; `afterOrdinal` is the last ordinal seen. */
export async function listDocumentChunks(
  db: Queryable,
  documentId: number,
  page: { limit: number; afterOrdinal?: number },
): Promise<StoredChunk[]> {
  const { rows } = await db.query<StoredChunk>(
    `SELECT id, ordinal, heading_path AS "headingPath", text, token_count AS "tokenCount",
       content_hash AS "contentHash", CASE WHEN embedding IS NULL THEN NULL ELSE embedding_model END AS "embeddingModel"
     FROM chunks WHERE document_id = $1 AND ordinal >= 0 AND ordinal > $2 ORDER BY ordinal LIMIT $3`,
    [documentId, page.afterOrdinal ?? -1, page.limit],
  )
  return rows
}
