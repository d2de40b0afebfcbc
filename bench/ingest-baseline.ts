/**
 * The LangChain side of bench/ingest.ts, in its own process so the two clients share no connection
 * pools or HTTP agents: reads the chunk texts Onbrand embedded (a JSON file the parent wrote) and times
 * PGVectorStore.addDocuments on them. Prints {"seconds": …, "documents": …, "indexed": …} on stdout.
 *
 *   tsx bench/ingest-baseline.ts <database-url|embedded> <texts.json> <embeddings-base-url> <table> <dims> <batch> <concurrency> [hnsw]
 *
 * `embedded` opens a fresh on-disk PGlite of its own (one PGlite belongs to one process). With `hnsw`,
 * the table gets LangChain's HNSW index before the insert, as Onbrand's collections have.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { createPgConfig, PglitePgConnection } from '@electric-sql/pglite/node-postgres'
import { vector } from '@electric-sql/pglite-pgvector'
import { PGVectorStore } from '@langchain/community/vectorstores/pgvector'
import { Document } from '@langchain/core/documents'
import { OpenAIEmbeddings } from '@langchain/openai'
import pg from 'pg'

const [spec, textsFile, baseURL, table, dims, batch, concurrency, index] = process.argv.slice(2)
if (!spec || !textsFile || !baseURL || !table || !dims || !batch || !concurrency) {
  process.stderr.write(
    'usage: tsx bench/ingest-baseline.ts <db-url|embedded> <texts.json> <base-url> <table> <dims> <batch> <concurrency> [hnsw]\n',
  )
  process.exit(2)
}

async function openPool(): Promise<{ pool: pg.Pool; close(): Promise<void> }> {
  if (spec !== 'embedded')
    return { pool: new pg.Pool({ connectionString: spec, max: 4 }), close: async () => {} }
  const dir = mkdtempSync(join(tmpdir(), 'onbrand-baseline-'))
  const pglite = await PGlite.create({ dataDir: dir, extensions: { vector } })
  const { connection: _shared, ...config } = createPgConfig(pglite)
  class PgliteClient extends pg.Client {
    constructor(clientConfig?: pg.ClientConfig) {
      super({ ...clientConfig, connection: new PglitePgConnection({ pglite }) } as pg.ClientConfig)
    }
  }
  // PGVectorStore keeps one client checked out and queries through the pool: it needs two.
  const pool = new pg.Pool({ ...config, Client: PgliteClient, max: 2, idleTimeoutMillis: 0 })
  return {
    pool,
    close: async () => {
      await pglite.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

const texts = JSON.parse(readFileSync(textsFile, 'utf8')) as {
  text: string
  sourceId: string
  ordinal: number
}[]
const docs = texts.map(
  (row) =>
    new Document({ pageContent: row.text, metadata: { sourceId: row.sourceId, ordinal: row.ordinal } }),
)
const { pool, close } = await openPool()
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
// The namespace makes the index name unique: LangChain names it `embedding_embedding_hnsw_idx` otherwise,
// and with IF NOT EXISTS a second table in the same schema silently got no index at all.
if (index === 'hnsw')
  await store.createHnswIndex({ dimensions: Number(dims), m: 16, efConstruction: 64, namespace: table })
// createHnswIndex logs and swallows its errors: check the index is really there.
const indexed = Number(
  (
    await pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_indexes WHERE tablename = $1 AND indexdef ILIKE '%USING hnsw%'",
      [table],
    )
  ).rows[0]!.n,
)
if ((index === 'hnsw') !== indexed > 0)
  throw new Error(`expected ${index === 'hnsw' ? 'an' : 'no'} HNSW index`)
const started = performance.now()
await store.addDocuments(docs)
const seconds = (performance.now() - started) / 1000
const stored = Number((await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n)
if (stored !== docs.length) throw new Error(`stored ${stored} rows of ${docs.length}`)
process.stdout.write(`${JSON.stringify({ seconds, documents: docs.length, indexed: indexed > 0 })}\n`)
// The store keeps a client checked out, so pool.end() alone would wait forever.
await store.end()
await close()
process.exit(0)
