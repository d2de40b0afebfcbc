/**
 * The LangChain side of bench/ingest.ts, in its own process so the two clients share no connection
 * pools or HTTP agents: reads the chunk texts Onbrand embedded for a collection and times
 * PGVectorStore.addDocuments on them. Prints {"seconds": …, "documents": …} on stdout.
 *
 *   tsx bench/ingest-baseline.ts <database-url> <collection-id> <embeddings-base-url> <table> <dims> <batch> <concurrency> [hnsw]
 *
 * With `hnsw`, the table gets LangChain's HNSW index before the insert, as Onbrand's collections have.
 */
import { PGVectorStore } from '@langchain/community/vectorstores/pgvector'
import { Document } from '@langchain/core/documents'
import { OpenAIEmbeddings } from '@langchain/openai'
import pg from 'pg'

const [dbUrl, collectionId, baseURL, table, dims, batch, concurrency, index] = process.argv.slice(2)
if (!dbUrl || !collectionId || !baseURL || !table || !dims || !batch || !concurrency) {
  process.stderr.write(
    'usage: tsx bench/ingest-baseline.ts <db-url> <collection-id> <base-url> <table> <dims> <batch> <concurrency>\n',
  )
  process.exit(2)
}
const pool = new pg.Pool({ connectionString: dbUrl, max: 4 })
const { rows } = await pool.query<{ text: string; sourceId: string; ordinal: number }>(
  `SELECT CASE WHEN c.heading_path = '' THEN c.text ELSE c.heading_path || E'\\n\\n' || c.text END AS text,
     d.source_id AS "sourceId", c.ordinal
   FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.collection_id = $1 ORDER BY c.id`,
  [Number(collectionId)],
)
const docs = rows.map(
  (row) =>
    new Document({ pageContent: row.text, metadata: { sourceId: row.sourceId, ordinal: row.ordinal } }),
)
const store = await PGVectorStore.initialize(
  new OpenAIEmbeddings({
    model: 'bench-embed',
    apiKey: 'bench',
    configuration: { baseURL },
    batchSize: Number(batch),
    maxConcurrency: Number(concurrency),
    stripNewLines: false,
  }),
  { pool, tableName: table, dimensions: Number(dims), distanceStrategy: 'cosine' },
)
if (index === 'hnsw') await store.createHnswIndex({ dimensions: Number(dims), m: 16, efConstruction: 64 })
const started = performance.now()
await store.addDocuments(docs)
const seconds = (performance.now() - started) / 1000
process.stdout.write(`${JSON.stringify({ seconds, documents: docs.length })}\n`)
// The store keeps a client checked out, so pool.end() alone would wait forever.
await store.end()
process.exit(0)
