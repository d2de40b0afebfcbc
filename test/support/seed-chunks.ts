import { createHash } from 'node:crypto'
import type pg from 'pg'
import pgvector from 'pgvector'
import { type CollectionRow, insertCollection } from '../../src/db/collections.js'
import { deterministicEmbedding } from './openai-stub.js'

/**
 * Collections, documents and chunks written straight with SQL, so retrieval tests don't depend on
 * the ingestion pipeline. Collections go through insertCollection, which also creates their HNSW index.
 */
interface SeedChunk {
  text: string
  headingPath?: string
  tokenCount?: number
  /** An explicit vector; otherwise deterministicEmbedding(text) when the document is embedded. */
  embedding?: number[]
  /** Store the embedding under another model name than the collection's (not comparable). */
  embeddingModel?: string
}

export interface SeedDocument {
  sourceId: string
  kind?: 'guideline' | 'product'
  title?: string
  metadata?: Record<string, unknown>
  /** False leaves the chunks without embeddings (lexical only). Default true. */
  embed?: boolean
  chunks: (SeedChunk | string)[]
}

export interface SeedCollectionInput {
  name: string
  dimensions?: number
  embeddingModel?: string
  textSearchConfig?: string
}

export async function seedCollection(
  pool: pg.Pool,
  input: SeedCollectionInput,
  documents: SeedDocument[] = [],
): Promise<{ collection: CollectionRow; chunkIds: Map<string, number[]> }> {
  const collection = await insertCollection(pool, {
    name: input.name,
    description: '',
    embeddingModel: input.embeddingModel ?? 'text-embedding-3-small',
    embeddingDimensions: input.dimensions ?? 256,
    textSearchConfig: input.textSearchConfig ?? 'english',
  })
  const chunkIds = await seedDocuments(pool, collection, documents)
  return { collection, chunkIds }
}

/** Inserts the documents and their chunks; returns the chunk ids of each source id, in ordinal order. */
async function seedDocuments(
  pool: pg.Pool,
  collection: CollectionRow,
  documents: SeedDocument[],
): Promise<Map<string, number[]>> {
  const chunkIds = new Map<string, number[]>()
  if (documents.length === 0) return chunkIds
  const { rows: docs } = await pool.query<{ id: number; sourceId: string }>(
    `INSERT INTO documents (collection_id, source_id, kind, title, content_hash, metadata)
     SELECT $1, s, k, t, 'seed', m::jsonb FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS u(s, k, t, m)
     RETURNING id, source_id AS "sourceId"`,
    [
      collection.id,
      documents.map((d) => d.sourceId),
      documents.map((d) => d.kind ?? 'guideline'),
      documents.map((d) => d.title ?? d.sourceId),
      documents.map((d) => JSON.stringify(d.metadata ?? {})),
    ],
  )
  const documentIds = new Map(docs.map((row) => [row.sourceId, row.id]))
  const rows = documents.flatMap((document) =>
    document.chunks.map((entry, ordinal) => {
      const chunk = typeof entry === 'string' ? { text: entry } : entry
      const embedded = document.embed !== false
      const vector = embedded
        ? (chunk.embedding ??
          deterministicEmbedding(`${chunk.headingPath ?? ''} ${chunk.text}`, collection.embeddingDimensions))
        : null
      return {
        documentId: documentIds.get(document.sourceId)!,
        ordinal,
        headingPath: chunk.headingPath ?? '',
        text: chunk.text,
        tokenCount: chunk.tokenCount ?? Math.ceil(chunk.text.length / 4),
        hash: createHash('sha256').update(chunk.text).digest('hex'),
        embedding: vector === null ? null : pgvector.toSql(vector),
        model: vector === null ? null : (chunk.embeddingModel ?? collection.embeddingModel),
      }
    }),
  )
  const { rows: inserted } = await pool.query<{ id: number; documentId: number }>(
    `INSERT INTO chunks (document_id, collection_id, ordinal, heading_path, text, token_count, content_hash,
       embedding, embedding_model, ts_config)
     SELECT d, $1, o, h, t, n, c, e::vector, m, $2::regconfig
     FROM unnest($3::bigint[], $4::int[], $5::text[], $6::text[], $7::int[], $8::text[], $9::text[], $10::text[])
       AS u(d, o, h, t, n, c, e, m)
     RETURNING id, document_id AS "documentId"`,
    [
      collection.id,
      collection.textSearchConfig,
      rows.map((r) => r.documentId),
      rows.map((r) => r.ordinal),
      rows.map((r) => r.headingPath),
      rows.map((r) => r.text),
      rows.map((r) => r.tokenCount),
      rows.map((r) => r.hash),
      rows.map((r) => r.embedding),
      rows.map((r) => r.model),
    ],
  )
  const sourceOf = new Map(docs.map((row) => [row.id, row.sourceId]))
  for (const row of inserted.sort((a, b) => a.id - b.id)) {
    const source = sourceOf.get(row.documentId)!
    chunkIds.set(source, [...(chunkIds.get(source) ?? []), row.id])
  }
  return chunkIds
}
