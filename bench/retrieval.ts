/**
 * Retrieval benchmark: 100k chunks of 1536-dimension synthetic clustered vectors in real PostgreSQL.
 * In one run, query by query and in rotating order, it times:
 *   - POST /v1/retrieve on a listening server (the query embedder returns a precomputed vector,
 *     so no model time is measured; auth, lookup, search, packing and HTTP are);
 *   - the same search statement retrieve() sends, sent directly through pg;
 *   - LangChain's PGVectorStore.similaritySearch on its own table holding the same vectors;
 * and measures recall@10 of the HNSW vector arm against exact search (index scans off).
 *
 *   npm run bench:retrieval            (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres)
 */
import { performance } from 'node:perf_hooks'
import { serve } from '@hono/node-server'
import { PGVectorStore } from '@langchain/community/vectorstores/pgvector'
import { Embeddings } from '@langchain/core/embeddings'
import pg from 'pg'
import pgvector from 'pgvector'
import pino from 'pino'
import { createApp } from '../src/app.js'
import { createKey } from '../src/auth/manage-keys.js'
import { loadConfig } from '../src/config.js'
import { buildSearchStatements, findSearchableCollection } from '../src/db/chunk-search.js'
import { hnswIndexName, insertCollection, vectorExpression } from '../src/db/collections.js'
import { ensureVectorAvailable, loadMigrations, migrate } from '../src/db/migrate.js'
import { openDatabase } from '../src/db/pool.js'
import type { EmbedderFactory } from '../src/embedding/embedder.js'
import { retrievalSettingsFromConfig, searchOptionsFor } from '../src/retrieval/retrieve.js'
import { searchChunks } from '../src/retrieval/search.js'
import { RetrieveRequest } from '../src/retrieval/types.js'
import { buildServices } from '../src/services.js'
import { makeCorpus, percentile, seededRandom } from './retrieval-data.js'
import { writeSection } from './support/benchmarks-file.js'

const DIMS = 1536
const CHUNKS = Number(process.env.BENCH_CHUNKS ?? 100_000)
const QUERIES = Number(process.env.BENCH_QUERIES ?? 300)
// Exact search reads every vector (about 1 s a query at 100k), so recall uses the first of the timed queries.
const RECALL_QUERIES = Math.min(QUERIES, Number(process.env.BENCH_RECALL_QUERIES ?? 100))
const WARMUP = 20
const K = 10
const SERVER_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const DB_NAME = 'onbrand_bench_retrieval'

const log = (message: string) => process.stderr.write(`[bench:retrieval] ${message}\n`)
const started = performance.now()
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)}s`

log('starting')
const admin = new pg.Client({ connectionString: SERVER_URL })
await admin.connect()
await admin.query(`DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`)
await admin.query(`CREATE DATABASE ${DB_NAME}`)
const url = new URL(SERVER_URL)
url.pathname = `/${DB_NAME}`
const dbUrl = url.toString()
const db = await openDatabase({ url: dbUrl, dataDir: '', poolSize: 4 })
await ensureVectorAvailable(db.pool)
await migrate(db.pool)
const { rows: versionRows } = await db.pool.query<{ pg: string; vector: string }>(
  "SELECT current_setting('server_version') AS pg, (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS vector",
)

log(`${elapsed()} migrated`)
// --- data ------------------------------------------------------------------------------------------
const random = seededRandom(20240611)
const corpus = makeCorpus({ chunks: CHUNKS, dims: DIMS, clusters: 100, chunksPerDocument: 10, random })
const collection = await insertCollection(db.pool, {
  name: 'bench',
  description: 'synthetic',
  embeddingModel: 'bench-embedding',
  embeddingDimensions: DIMS,
  textSearchConfig: 'english',
})
// Loading into a live HNSW index inserts row by row; building it once afterwards is far faster.
await db.pool.query(`DROP INDEX ${hnswIndexName(collection.id)}`)
const { rows: docRows } = await db.pool.query<{ id: number }>(
  `INSERT INTO documents (collection_id, source_id, kind, title, content_hash, metadata)
   SELECT $1, s, k, t, 'h', m::jsonb FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS u(s, k, t, m)
   RETURNING id`,
  [
    collection.id,
    corpus.documents.map((d) => d.sourceId),
    corpus.documents.map((d) => d.kind),
    corpus.documents.map((d) => d.title),
    corpus.documents.map((d) => JSON.stringify(d.metadata)),
  ],
)
// Vectors travel in binary (vector[] array_recv / vector_recv): formatting 1536 floats as text and
// parsing them back took most of the load. Two batches in flight keep both cores busy.
const { rows: oidRows } = await db.pool.query<{ oid: number }>("SELECT 'vector'::regtype::oid AS oid")
const vectorOid = oidRows[0]!.oid
const BATCH = 1000
const inFlight = new Set<Promise<unknown>>()
for (let start = 0; start < corpus.chunks.length; start += BATCH) {
  const batch = corpus.chunks.slice(start, start + BATCH)
  const insert = db.pool.query(
    `INSERT INTO chunks (document_id, collection_id, ordinal, heading_path, text, token_count, content_hash,
       embedding, embedding_model, ts_config)
     SELECT d, $1, o, '', t, n, md5(t), e, 'bench-embedding', 'english'
     FROM unnest($2::bigint[], $3::int[], $4::text[], $5::int[], $6::vector[]) AS u(d, o, t, n, e)`,
    [
      collection.id,
      batch.map((c) => docRows[c.document]!.id),
      batch.map((c) => c.ordinal),
      batch.map((c) => c.text),
      batch.map((c) => c.tokens),
      vectorArrayBinary(
        batch.map((c) => c.vector),
        vectorOid,
      ),
    ],
  )
  inFlight.add(insert)
  void insert.finally(() => inFlight.delete(insert)).catch(() => {})
  if (inFlight.size >= 2) await Promise.race(inFlight)
}
await Promise.all(inFlight)
log(`${elapsed()} loaded ${corpus.chunks.length} chunks`)

const build = await db.pool.connect()
await build.query("SET maintenance_work_mem = '2GB'")
await build.query('SET max_parallel_maintenance_workers = 2')
let t0 = performance.now()
await build.query(
  `CREATE INDEX ${hnswIndexName(collection.id)} ON chunks
   USING hnsw (${vectorExpression(DIMS)} vector_cosine_ops) WHERE collection_id = ${collection.id}`,
)
const ourBuildSeconds = (performance.now() - t0) / 1000
log(`${elapsed()} built the collection HNSW index in ${ourBuildSeconds.toFixed(0)}s`)

class FixedEmbeddings extends Embeddings {
  constructor(private readonly vectors: Map<string, number[]>) {
    super({})
  }
  async embedDocuments(texts: string[]): Promise<number[][]> {
    return texts.map((text) => this.embed(text))
  }
  async embedQuery(text: string): Promise<number[]> {
    return this.embed(text)
  }
  private embed(text: string): number[] {
    const vector = this.vectors.get(text)
    if (!vector) throw new Error(`no precomputed vector for "${text}"`)
    return vector
  }
}

const queries = Array.from({ length: QUERIES + WARMUP }, (_, i) => corpus.makeQuery(i))
const queryVectors = new Map(queries.map((q) => [q.text, q.vector]))
const langchainPool = new pg.Pool({ connectionString: dbUrl, max: 2 })
// Dropping the database at the end terminates idle connections; that must not crash the run.
langchainPool.on('error', () => {})
const store = await PGVectorStore.initialize(new FixedEmbeddings(queryVectors), {
  pool: langchainPool,
  tableName: 'langchain_bench',
  dimensions: DIMS,
  distanceStrategy: 'cosine',
})
await build.query(
  `INSERT INTO langchain_bench (text, metadata, embedding)
   SELECT text, jsonb_build_object('chunkId', id), embedding::vector(${DIMS}) FROM chunks`,
)
// Same client, so the same maintenance settings; createHnswIndex is LangChain's own DDL (m 16, ef_construction 64).
t0 = performance.now()
const storeOnBuildClient = new PGVectorStore(new FixedEmbeddings(queryVectors), {
  pool: { query: (text: string) => build.query(text) } as unknown as pg.Pool,
  tableName: 'langchain_bench',
  distanceStrategy: 'cosine',
})
await storeOnBuildClient.createHnswIndex({ dimensions: DIMS, m: 16, efConstruction: 64 })
const langchainBuildSeconds = (performance.now() - t0) / 1000
build.release()
await db.pool.query('ANALYZE chunks')
await db.pool.query('ANALYZE documents')
await db.pool.query('ANALYZE langchain_bench')
log(`${elapsed()} built LangChain's HNSW index in ${langchainBuildSeconds.toFixed(0)}s`)

// --- the three systems -----------------------------------------------------------------------------
// Retrieval settings may be tried from the environment (EF_SEARCH_DEFAULT=128 npm run bench:retrieval).
const retrievalEnv = Object.fromEntries(
  ['EF_SEARCH_DEFAULT', 'EF_SEARCH_MAX', 'RETRIEVAL_CANDIDATES', 'RRF_K']
    .filter((name) => process.env[name] !== undefined)
    .map((name) => [name, process.env[name]]),
)
// Limits high enough that the run is never throttled, but enforced (0 would skip the limiter).
const config = loadConfig({
  DATABASE_URL: dbUrl,
  LOG_LEVEL: 'silent',
  RATE_LIMIT_RPM: '1000000',
  RATE_LIMIT_TPM: '1000000000',
  ...retrievalEnv,
})
const settings = retrievalSettingsFromConfig(config)
const embedders: EmbedderFactory = (model, dimensions) => ({
  model,
  dimensions,
  embedDocuments: async (texts) => texts.map((text) => queryVectors.get(text)!),
  embedQuery: async (text) => queryVectors.get(text)!,
})
const app = createApp(
  buildServices({
    config,
    db,
    logger: pino({ level: 'silent' }),
    migrations: loadMigrations(),
    overrides: { embedders },
  }),
)
const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 })
await new Promise((resolve) => server.once('listening', resolve))
const address = server.address()
const port = typeof address === 'object' && address ? address.port : 0
const { key } = await createKey(db.pool, { name: 'bench', scopes: ['generate'] })

const direct = new pg.Pool({ connectionString: dbUrl, max: 1 })
direct.on('error', () => {})
const target = (await findSearchableCollection(direct, 'bench'))!
const requestFor = (text: string) =>
  RetrieveRequest.parse({ collection: 'bench', query: text, k: K, budgetTokens: 32_000 })

const systems = {
  direct: async (q: { text: string; vector: number[] }) =>
    searchChunks(direct, target, searchOptionsFor(requestFor(q.text), settings, q.vector, target)),
  api: async (q: { text: string }) => {
    const res = await fetch(`http://127.0.0.1:${port}/v1/retrieve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ collection: 'bench', query: q.text, k: K, budgetTokens: 32_000 }),
    })
    if (res.status !== 200) throw new Error(`API answered ${res.status}: ${await res.text()}`)
    return res.json()
  },
  langchain: async (q: { text: string }) => store.similaritySearch(q.text, K),
}
type SystemName = keyof typeof systems
const names = Object.keys(systems) as SystemName[]
const timings: Record<SystemName, number[]> = { direct: [], api: [], langchain: [] }
const langchainTop: number[][] = []
for (let i = 0; i < queries.length; i++) {
  const q = queries[i]!
  // Rotate the order so no system always runs first (cold) or last.
  for (let j = 0; j < names.length; j++) {
    const name = names[(i + j) % names.length]!
    const t = performance.now()
    const result = await systems[name](q)
    const ms = performance.now() - t
    if (i < WARMUP) continue
    timings[name].push(ms)
    if (name === 'langchain') {
      langchainTop.push((result as { metadata: { chunkId: number } }[]).map((d) => d.metadata.chunkId))
    }
  }
}
log(`${elapsed()} timed ${QUERIES} queries per system`)

// --- recall against exact search, and an ef_search sweep --------------------------------------------
const exact = await direct.connect()
const truths: Set<number>[] = []
for (let i = WARMUP; i < WARMUP + RECALL_QUERIES; i++) {
  await exact.query('BEGIN')
  await exact.query('SET LOCAL enable_indexscan = off')
  const { rows } = await exact.query<{ id: number }>(
    `SELECT id FROM chunks WHERE collection_id = ${collection.id} AND embedding_model = 'bench-embedding'
     ORDER BY ${vectorExpression(DIMS)} <=> $1::vector(${DIMS}) LIMIT ${K}`,
    [pgvector.toSql(queries[i]!.vector)],
  )
  await exact.query('COMMIT')
  truths.push(new Set(rows.map((r) => r.id)))
}
const hitsOf = (top: number[][]) =>
  top.reduce((sum, ids, j) => sum + ids.filter((id) => truths[j]!.has(id)).length, 0) / (RECALL_QUERIES * K)
const optionsAt = (text: string, vector: number[], efSearch: number) => ({
  ...searchOptionsFor(requestFor(text), settings, vector, target),
  efSearch,
})
// The vector arm of the very statement retrieve() sends, with a query text no chunk contains, so
// fusion cannot push vector hits out of the returned rows.
async function recallAt(efSearch: number): Promise<number> {
  const top: number[][] = []
  for (let i = WARMUP; i < WARMUP + RECALL_QUERIES; i++) {
    const q = queries[i]!
    const rows = await searchChunks(exact, target, { ...optionsAt(`q${i}`, q.vector, efSearch), limit: 1000 })
    top.push(rows.filter((r) => r.vectorRank !== null && r.vectorRank <= K).map((r) => r.id))
  }
  return hitsOf(top)
}
const langchainRecall = hitsOf(langchainTop.slice(0, RECALL_QUERIES))

// Each sweep query runs the full hybrid statement at every ef_search, in rotating order, on one connection.
const SWEEP = [...new Set([40, 64, 96, 128, 160, 200, 256, settings.efSearchDefault])].sort((x, y) => x - y)
const sweepTimings = new Map(SWEEP.map((ef) => [ef, [] as number[]]))
for (let i = WARMUP; i < WARMUP + RECALL_QUERIES; i++) {
  const q = queries[i]!
  for (let j = 0; j < SWEEP.length; j++) {
    const ef = SWEEP[(i + j) % SWEEP.length]!
    const t = performance.now()
    await searchChunks(exact, target, optionsAt(q.text, q.vector, ef))
    sweepTimings.get(ef)!.push(performance.now() - t)
  }
}
const sweep: { ef: number; recall: number; p50: number }[] = []
for (const ef of SWEEP) {
  sweep.push({ ef, recall: await recallAt(ef), p50: percentile(sweepTimings.get(ef)!, 50) })
  log(
    `${elapsed()} ef_search ${ef}: recall@10 ${sweep.at(-1)!.recall.toFixed(3)}, p50 ${sweep.at(-1)!.p50.toFixed(2)} ms`,
  )
}
const recall = sweep.find((row) => row.ef === settings.efSearchDefault)!.recall
const sample = queries[WARMUP]!
// The vector arm's statement: the one that must use the HNSW index.
const { text, values } = buildSearchStatements(
  target,
  searchOptionsFor(requestFor(sample.text), settings, sample.vector, target),
).vector!
const plan = (await exact.query(`EXPLAIN ${text}`, values)).rows
  .map((r) => r['QUERY PLAN'] as string)
  .join('\n')
if (process.env.BENCH_KEEP) {
  const analysed = await exact.query(`EXPLAIN (ANALYZE, BUFFERS) ${text}`, values)
  log(analysed.rows.map((r) => r['QUERY PLAN'] as string).join('\n'))
}
const usesIndex = plan.includes(`Index Scan using ${hnswIndexName(collection.id)}`)
exact.release()
log(`${elapsed()} recall@10 ${recall.toFixed(3)}; plan uses ${hnswIndexName(collection.id)}: ${usesIndex}`)

// --- report ----------------------------------------------------------------------------------------
const stats = (name: SystemName) => ({
  p50: percentile(timings[name], 50),
  p99: percentile(timings[name], 99),
})
const d = stats('direct')
const a = stats('api')
const l = stats('langchain')
const ms = (value: number) => value.toFixed(2)
const command = 'npm run bench:retrieval'
const section = `## Retrieval

Command: \`${command}\` (PostgreSQL ${versionRows[0]!.pg}, pgvector ${versionRows[0]!.vector}, ${new Date().toISOString().slice(0, 10)}, 2-core shared machine).

${CHUNKS.toLocaleString('en')} chunks (${corpus.documents.length.toLocaleString('en')} documents) with ${DIMS}-dimension synthetic vectors: 100 cluster centres plus
Gaussian noise, normalised; chunk texts are drawn from per-cluster vocabularies so the full-text arm has work to do.
Each query is a fresh point of a random cluster plus 3 words of its vocabulary, k = ${K}. ${QUERIES} timed queries per
system after ${WARMUP} warm-up ones, run sequentially, one system after another per query in rotating order.
The machine is shared and noisy: other processes (tests, other benchmarks) ran at the same time, so
milliseconds move from run to run; the ratios, measured query by query in one run, move less.

| System | p50 (ms) | p99 (ms) | p50 vs direct SQL |
| --- | ---: | ---: | ---: |
| \`POST /v1/retrieve\` (HTTP, auth, collection lookup, hybrid search, packing) | ${ms(a.p50)} | ${ms(a.p99)} | ${(a.p50 / d.p50).toFixed(2)}× |
| The same search statement sent directly through pg | ${ms(d.p50)} | ${ms(d.p99)} | 1.00× |
| LangChain \`PGVectorStore.similaritySearch\` (vector only, own table and HNSW index) | ${ms(l.p50)} | ${ms(l.p99)} | ${(l.p50 / d.p50).toFixed(2)}× |

- Recall@10 of the HNSW vector arm (ef_search ${settings.efSearchDefault}, iterative scan relaxed_order, ${searchOptionsFor(requestFor('x'), settings, undefined, target).candidates} candidates) against exact search over ${RECALL_QUERIES} queries: **${recall.toFixed(3)}** (target ≥ 0.95).
  LangChain's search (pgvector's default ef_search 40, no iterative scan): ${langchainRecall.toFixed(3)}.
- API p50 / direct SQL p50: **${(a.p50 / d.p50).toFixed(2)}×** (target ≤ 1.5×). The API adds an HTTP round trip, the key check
  (the key row is cached for AUTH_CACHE_TTL_MS; at most one SELECT per 2 s and one UPDATE a minute), the
  rate limit (enforced at 1,000,000 requests a minute: admitted from claimed blocks, one claim per 50,000
  requests), the collection lookup (one SELECT) and packing to the search statement.

ef_search sweep on the same data and queries (the full hybrid statement sent directly through pg, ${RECALL_QUERIES} queries,
every ef_search per query in rotating order; recall of its vector arm as above):

| ef_search | recall@10 | direct SQL p50 (ms) |
| ---: | ---: | ---: |
${sweep.map((row) => `| ${row.ef}${row.ef === settings.efSearchDefault ? ' (default)' : ''} | ${row.recall.toFixed(3)} | ${ms(row.p50)} |`).join('\n')}

The HNSW graph differs from build to build (a parallel build on a busy machine inserts in a different
order), so recall at a given ef_search moves by a few hundredths between runs: read the sweep with that margin.

- The search statement used the collection's partial HNSW index (\`${hnswIndexName(collection.id)}\`): ${usesIndex ? 'yes' : '**no**'} (EXPLAIN).
- LangChain's numbers are for a plain vector search, so they are a floor, not a like-for-like rival: the
  Onbrand statement also runs the full-text arm, fusion and the fetch of text, title and metadata.
- Index builds (m 16, ef_construction 64, maintenance_work_mem 2GB, 2 parallel workers): collection index
  ${ourBuildSeconds.toFixed(0)} s, LangChain's ${langchainBuildSeconds.toFixed(0)} s. Every run starts from a fresh database;
  vectors are loaded as float4 in binary. Load, builds, timing, recall and sweep took ${elapsed()} in all.
`
// BENCH_DRY_RUN=1 (e.g. with a small BENCH_CHUNKS) prints the section without touching BENCHMARKS.md.
if (!process.env.BENCH_DRY_RUN) writeSection('BENCHMARKS.md', '## Retrieval', section)
process.stdout.write(`${section}\n`)

server.close()
if ('closeAllConnections' in server) server.closeAllConnections()
// store.end() releases the client PGVectorStore.initialize holds, then ends its pool.
await Promise.all([direct.end(), store.end(), db.close()])
if (!process.env.BENCH_KEEP) await admin.query(`DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`)
await admin.end()
log(`${elapsed()} done`)

/** The binary wire format of a one-dimensional vector[] (array_recv, each element vector_recv). */
function vectorArrayBinary(vectors: Float32Array[], vectorOid: number): Buffer {
  const dims = vectors[0]!.length
  const elementBytes = 4 + dims * 4
  const out = Buffer.alloc(20 + vectors.length * (4 + elementBytes))
  let at = out.writeInt32BE(1, 0) // dimensions of the array
  at = out.writeInt32BE(0, at) // no nulls
  at = out.writeUInt32BE(vectorOid, at)
  at = out.writeInt32BE(vectors.length, at)
  at = out.writeInt32BE(1, at) // lower bound
  for (const vector of vectors) {
    at = out.writeInt32BE(elementBytes, at)
    at = out.writeInt16BE(dims, at)
    at = out.writeInt16BE(0, at) // unused
    for (let i = 0; i < dims; i++) at = out.writeFloatBE(vector[i]!, at)
  }
  return out
}
