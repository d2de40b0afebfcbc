import type { ChunkInsert } from '../../src/db/chunks.js'
import { hnswIndexName, vectorExpression } from '../../src/db/collections.js'
import type { BenchTarget } from './bench-target.js'
import { BinaryCopyWriter, type CopyFieldType } from './binary-copy.js'

/** The rows one ingest stored for a collection, read back with their vectors as numbers. */
export interface StoredRows {
  documents: {
    id: number
    sourceId: string
    kind: string
    title: string
    contentHash: string
    metadata: string
  }[]
  chunks: (Omit<ChunkInsert, 'embedding'> & {
    embedding: Float32Array | null
    embeddingModel: string | null
    tsConfig: number
  })[]
}

export async function readStoredRows(target: BenchTarget, collectionId: number): Promise<StoredRows> {
  const pool = target.db.pool
  const documents = await pool.query<StoredRows['documents'][number]>(
    `SELECT id, source_id AS "sourceId", kind, title, content_hash AS "contentHash", metadata::text AS metadata
     FROM documents WHERE collection_id = $1 ORDER BY id`,
    [collectionId],
  )
  const chunks = await pool.query<
    Omit<StoredRows['chunks'][number], 'embedding'> & { embedding: string | null }
  >(
    `SELECT document_id AS "documentId", ordinal, heading_path AS "headingPath", text, token_count AS "tokenCount",
       content_hash AS "contentHash", embedding::text AS embedding, embedding_model AS "embeddingModel",
       ts_config::oid::int AS "tsConfig"
     FROM chunks WHERE collection_id = $1 ORDER BY id`,
    [collectionId],
  )
  return {
    documents: documents.rows,
    chunks: chunks.rows.map((row) => ({
      ...row,
      embedding: row.embedding === null ? null : Float32Array.from(JSON.parse(row.embedding) as number[]),
    })),
  }
}

export interface FloorResult {
  seconds: number
  parts: { label: string; seconds: number }[]
}

const DOCUMENT_COLUMNS: [string, CopyFieldType][] = [
  ['id', 'int8'],
  ['collection_id', 'int8'],
  ['source_id', 'text'],
  ['kind', 'text'],
  ['title', 'text'],
  ['content_hash', 'text'],
  ['metadata', 'jsonb'],
]

const CHUNK_COLUMNS: [string, CopyFieldType][] = [
  ['document_id', 'int8'],
  ['collection_id', 'int8'],
  ['ordinal', 'int4'],
  ['heading_path', 'text'],
  ['text', 'text'],
  ['token_count', 'int4'],
  ['content_hash', 'text'],
  ['embedding', 'vector'],
  ['embedding_model', 'text'],
  ['ts_config', 'oid'],
]

/**
 * The fastest way PostgreSQL takes the same rows: fresh `documents` and `chunks` tables of the same
 * columns and the trigger that derives `tsv` and `word_count` from the text (so the server computes the same
 * tsvectors, once a row, as Onbrand's insert does), filled by binary COPY, then every index and constraint Onbrand's tables carry built once over the full data,
 * the collection's HNSW index included. The JavaScript encoding of the COPY stream is timed too.
 */
export async function measureFloor(
  target: BenchTarget,
  rows: StoredRows,
  collectionId: number,
  dimensions: number,
  suffix: string,
): Promise<FloorResult> {
  const pool = target.db.pool
  const docs = `floor_documents_${suffix}`
  const chunks = `floor_chunks_${suffix}`
  const parts: FloorResult['parts'] = []
  const started = performance.now()
  let mark = started
  const step = async (label: string, work: () => Promise<unknown> | unknown) => {
    await work()
    const now = performance.now()
    parts.push({ label, seconds: (now - mark) / 1000 })
    mark = now
  }
  await step('create the two empty tables', async () => {
    // LIKE copies columns, NOT NULL, defaults and CHECKs; no indexes, no keys, no triggers.
    await pool.query(`CREATE TABLE ${docs} (LIKE documents INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`)
    await pool.query(
      `CREATE TABLE ${chunks} (LIKE chunks INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING IDENTITY)`,
    )
    // The text search columns as chunks gets them (migration 0010): one to_tsvector a row.
    await pool.query(
      `CREATE TRIGGER ${chunks}_text_search BEFORE INSERT ON ${chunks} FOR EACH ROW EXECUTE FUNCTION chunks_text_search()`,
    )
  })
  let docStream: Buffer = Buffer.alloc(0)
  let chunkStream: Buffer = Buffer.alloc(0)
  await step('encode the binary COPY streams (JavaScript)', () => {
    const docWriter = new BinaryCopyWriter(DOCUMENT_COLUMNS.map(([, type]) => type))
    for (const d of rows.documents)
      docWriter.addRow([d.id, collectionId, d.sourceId, d.kind, d.title, d.contentHash, d.metadata])
    docStream = docWriter.finish()
    const chunkWriter = new BinaryCopyWriter(CHUNK_COLUMNS.map(([, type]) => type))
    for (const c of rows.chunks) {
      chunkWriter.addRow([
        c.documentId,
        collectionId,
        c.ordinal,
        c.headingPath,
        c.text,
        c.tokenCount,
        c.contentHash,
        c.embedding,
        c.embeddingModel,
        c.tsConfig,
      ])
    }
    chunkStream = chunkWriter.finish()
  })
  await step('COPY documents', () =>
    target.copyBinary(
      docs,
      DOCUMENT_COLUMNS.map(([name]) => name),
      docStream,
    ),
  )
  await step('COPY chunks (tsv computed by the server)', () =>
    target.copyBinary(
      chunks,
      CHUNK_COLUMNS.map(([name]) => name),
      chunkStream,
    ),
  )
  await step('documents: keys, unique, metadata GIN', async () => {
    await pool.query(`ALTER TABLE ${docs} ADD PRIMARY KEY (id), ADD UNIQUE (collection_id, source_id)`)
    await pool.query(`CREATE INDEX ON ${docs} USING gin (metadata jsonb_path_ops)`)
  })
  await step('chunks: keys, unique, btree indexes, foreign keys', async () => {
    await pool.query(`ALTER TABLE ${chunks} ADD PRIMARY KEY (id), ADD UNIQUE (document_id, ordinal)`)
    await pool.query(`CREATE INDEX ON ${chunks} (collection_id)`)
    await pool.query(
      `CREATE INDEX ON ${chunks} (collection_id, content_hash, embedding_model) WHERE embedding IS NOT NULL`,
    )
    await pool.query(`CREATE INDEX ON ${chunks} (collection_id) WHERE embedding IS NULL`)
    await pool.query(`ALTER TABLE ${chunks} ADD FOREIGN KEY (document_id) REFERENCES ${docs} (id)`)
    await pool.query(`ALTER TABLE ${chunks} ADD FOREIGN KEY (collection_id) REFERENCES collections (id)`)
  })
  await step('chunks: full-text GIN index', () => pool.query(`CREATE INDEX ON ${chunks} USING gin (tsv)`))
  await step("chunks: the collection's HNSW index", () =>
    pool.query(
      `CREATE INDEX ${hnswIndexName(collectionId)}_floor_${suffix} ON ${chunks}
       USING hnsw (${vectorExpression(dimensions)} vector_cosine_ops) WHERE collection_id = ${Number(collectionId)}`,
    ),
  )
  const seconds = (performance.now() - started) / 1000
  await pool.query(`DROP TABLE ${chunks}`)
  await pool.query(`DROP TABLE ${docs}`)
  return { seconds, parts }
}
