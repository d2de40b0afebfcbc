import type { Queryable } from './transaction.js'

export interface DocumentUpsert {
  sourceId: string
  kind: 'guideline' | 'product'
  title: string
  contentHash: string
  metadata: Record<string, unknown>
}

export interface DocumentSummary {
  id: number
  sourceId: string
  kind: 'guideline' | 'product'
  title: string
  contentHash: string
  metadata: Record<string, unknown>
  chunkCount: number
  embeddedChunkCount: number
  createdAt: Date
  updatedAt: Date
}

/** Stored content hashes of the given source ids: what the diff against a new source compares with. */
export async function findDocumentHashes(
  db: Queryable,
  collectionId: number,
  sourceIds: string[],
): Promise<Map<string, string>> {
  const { rows } = await db.query<{ sourceId: string; contentHash: string }>(
    `SELECT source_id AS "sourceId", content_hash AS "contentHash" FROM documents
     WHERE collection_id = $1 AND source_id = ANY($2::text[])`,
    [collectionId, sourceIds],
  )
  return new Map(rows.map((row) => [row.sourceId, row.contentHash]))
}

/** Insert or update documents in one statement; `inserted` tells new ones from changed ones. */
export async function upsertDocuments(
  db: Queryable,
  collectionId: number,
  docs: DocumentUpsert[],
): Promise<{ id: number; sourceId: string; inserted: boolean }[]> {
  const { rows } = await db.query<{ id: number; sourceId: string; inserted: boolean }>(
    `INSERT INTO documents (collection_id, source_id, kind, title, content_hash, metadata)
     SELECT $1, d.source_id, d.kind, d.title, d.content_hash, d.metadata
     FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[])
       AS d(source_id, kind, title, content_hash, metadata)
     ON CONFLICT (collection_id, source_id) DO UPDATE SET
       kind = excluded.kind, title = excluded.title, content_hash = excluded.content_hash,
       metadata = excluded.metadata, updated_at = now()
     RETURNING id, source_id AS "sourceId", (xmax = 0) AS inserted`,
    [
      collectionId,
      docs.map((d) => d.sourceId),
      docs.map((d) => d.kind),
      docs.map((d) => d.title),
      docs.map((d) => d.contentHash),
      docs.map((d) => JSON.stringify(d.metadata)),
    ],
  )
  return rows
}

/** Sync mode: remove documents of these kinds that the source no longer has. Chunks go by cascade. */
export async function deleteDocumentsNotIn(
  db: Queryable,
  collectionId: number,
  kinds: string[],
  keepSourceIds: string[],
): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM documents
     WHERE collection_id = $1 AND kind = ANY($2::text[]) AND NOT (source_id = ANY($3::text[]))`,
    [collectionId, kinds, keepSourceIds],
  )
  return rowCount ?? 0
}

const DOCUMENT_COLUMNS = `d.id, d.source_id AS "sourceId", d.kind, d.title, d.content_hash AS "contentHash", d.metadata,
  (SELECT count(*)::int FROM chunks c WHERE c.document_id = d.id) AS "chunkCount",
  (SELECT count(*)::int FROM chunks c WHERE c.document_id = d.id AND c.embedding IS NOT NULL)
    AS "embeddedChunkCount",
  d.created_at AS "createdAt", d.updated_at AS "updatedAt"`

/** `text` as a LIKE pattern matching it anywhere, its own `%`, `_` and `\` taken literally. */
function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`
}

/**
 * One page of a collection's documents in source-id order; `after` is the last source id seen. `search`
 * keeps those whose source id or title contains it, ignoring case.
 */
export async function listDocuments(
  db: Queryable,
  collectionId: number,
  page: { limit: number; after?: string; kind?: 'guideline' | 'product'; search?: string },
): Promise<DocumentSummary[]> {
  const { rows } = await db.query<DocumentSummary>(
    `SELECT ${DOCUMENT_COLUMNS}
     FROM documents d
     WHERE d.collection_id = $1 AND ($2::text IS NULL OR d.source_id > $2) AND ($3::text IS NULL OR d.kind = $3)
       AND ($5::text IS NULL OR d.source_id ILIKE $5 OR d.title ILIKE $5)
     ORDER BY d.source_id
     LIMIT $4`,
    [
      collectionId,
      page.after ?? null,
      page.kind ?? null,
      page.limit,
      page.search ? containsPattern(page.search) : null,
    ],
  )
  return rows
}

/** One document of a collection by its id; undefined when the collection has no such document. */
export async function findDocument(
  db: Queryable,
  collectionId: number,
  documentId: number,
): Promise<DocumentSummary | undefined> {
  const { rows } = await db.query<DocumentSummary>(
    `SELECT ${DOCUMENT_COLUMNS} FROM documents d WHERE d.collection_id = $1 AND d.id = $2`,
    [collectionId, documentId],
  )
  return rows[0]
}

export interface CollectionStats {
  documentCount: number
  chunkCount: number
  embeddedChunkCount: number
}

export async function collectionStats(db: Queryable, collectionId: number): Promise<CollectionStats> {
  const { rows } = await db.query<CollectionStats>(
    `SELECT (SELECT count(*)::int FROM documents WHERE collection_id = $1) AS "documentCount",
       (SELECT count(*)::int FROM chunks WHERE collection_id = $1) AS "chunkCount",
       (SELECT count(*)::int FROM chunks WHERE collection_id = $1 AND embedding IS NOT NULL) AS "embeddedChunkCount"`,
    [collectionId],
  )
  return rows[0]!
}
