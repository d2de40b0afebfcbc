/**
 * Ingestion throughput on real PostgreSQL with an instant OpenAI-wire embedding server:
 *
 *   npm run bench:ingest            (BENCH_DATABASE_URL or TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres)
 *
 * Ingests the full shared corpora (three style guides, the Magento and Best Buy product catalogs) into a
 * fresh collection, REPS times, and puts the very same chunk texts through LangChain's
 * PGVectorStore.addDocuments against the same server and database in the same run. Then re-ingests
 * the unchanged corpus and counts embedding requests. Writes the "## Ingestion" section of BENCHMARKS.md.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import pg from 'pg'
import { createIngestJob } from '../ingest/jobs/create-job.js'
import type { JobFile } from '../ingest/loaders/load-files.js'
import type { LoadOptions } from '../ingest/loaders/types.js'
import type { IngestDeps } from '../ingest/pipeline/deps.js'
import { runJob } from '../ingest/pipeline/run-job.js'
import { createCollection } from '../src/collections/manage-collections.js'
import { loadConfig } from '../src/config.js'
import type { CollectionRow } from '../src/db/collections.js'
import { claimJob, findJob } from '../src/db/ingest-jobs.js'
import { migrate } from '../src/db/migrate.js'
import { openDatabase } from '../src/db/pool.js'
import type { Embedder, EmbedderFactory } from '../src/embedding/embedder.js'
import { createOpenAIEmbedderFactory } from '../src/embedding/openai-embedder.js'
import { createLogger } from '../src/logger.js'
import { startOpenAIStub } from '../test/support/openai-stub.js'

const REPS = Number(process.env.BENCH_REPS ?? 3)
const DIMS = 256
const MODEL = 'bench-embed'
const CORPORA = join(import.meta.dirname, '..', '..', 'shared', 'corpora')
const serverUrl =
  process.env.BENCH_DATABASE_URL ??
  process.env.TEST_DATABASE_URL ??
  'postgres://postgres@127.0.0.1:5432/postgres'

function readTree(root: string, keep: (path: string) => boolean): JobFile[] {
  const out: JobFile[] = []
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir).sort()) {
      const path = join(dir, entry)
      if (statSync(path).isDirectory()) walk(path)
      else if (keep(path)) out.push({ name: relative(CORPORA, path), content: readFileSync(path) })
    }
  }
  walk(root)
  return out
}

// Guide pages only: licence and readme files are not guidance.
const isGuidePage = (path: string) =>
  path.endsWith('.md') && !/(README|LICENSE|SOURCE)\.md$|readme\.md$/.test(path)
const magento = join(CORPORA, 'products-magento-luma', 'app', 'code', 'Magento')
const sources: { label: string; files: JobFile[]; load: LoadOptions }[] = [
  {
    label: 'style guides (govau, 18f, mailchimp)',
    files: ['style-guide-govau', 'style-guide-18f', 'style-guide-mailchimp'].flatMap((dir) =>
      readTree(join(CORPORA, dir), isGuidePage),
    ),
    load: { kind: 'guideline' },
  },
  {
    label: 'Magento Luma products (CSV)',
    files: [
      ...readTree(join(magento, 'ConfigurableSampleData', 'fixtures'), (p) => p.endsWith('products.csv')),
      ...readTree(join(magento, 'CatalogSampleData', 'fixtures', 'SimpleProduct'), (p) => p.endsWith('.csv')),
    ],
    load: { kind: 'product', idColumn: 'sku' },
  },
  {
    label: 'Best Buy products (JSON)',
    files: [
      {
        name: 'products-bestbuy-typesense/ecommerce.json',
        content: readFileSync(
          join(CORPORA, 'products-bestbuy-typesense', 'scripts', 'data', 'ecommerce.json'),
        ),
      },
    ],
    // The records have no id field; the image URL is unique per product.
    load: { kind: 'product', idColumn: 'image', textColumns: ['description', 'brand', 'categories'] },
  },
]

async function startStub(): Promise<{ url: string; close(): Promise<void> }> {
  const stub = await startOpenAIStub({ embeddingDimensions: DIMS, recordCalls: false })
  return { url: stub.url, close: () => stub.close() }
}

/** Counts what the pipeline asks of the provider: one embedDocuments call is one HTTP request here. */
function countingFactory(inner: EmbedderFactory, counter: { calls: number; texts: number }): EmbedderFactory {
  return (model, dims) => {
    const embedder = inner(model, dims)
    if (!embedder) return undefined
    const counted: Embedder = {
      model: embedder.model,
      dimensions: embedder.dimensions,
      embedQuery: (text) => embedder.embedQuery(text),
      embedDocuments: (texts) => {
        counter.calls++
        counter.texts += texts.length
        return embedder.embedDocuments(texts)
      },
    }
    return counted
  }
}

async function runBaseline(
  dbUrl: string,
  collectionId: number,
  stubUrl: string,
  table: string,
  config: { EMBEDDING_BATCH_SIZE: number; EMBEDDING_CONCURRENCY: number },
  index: 'none' | 'hnsw',
): Promise<number> {
  const args = [dbUrl, String(collectionId), stubUrl, table, String(DIMS)]
  args.push(String(config.EMBEDDING_BATCH_SIZE), String(config.EMBEDDING_CONCURRENCY), index)
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/ingest-baseline.ts', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  child.stdout.on('data', (chunk) => {
    out += String(chunk)
  })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  if (code !== 0) throw new Error(`the PGVectorStore baseline exited with ${code}`)
  return (JSON.parse(out) as { seconds: number }).seconds
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

async function ingestAll(
  deps: IngestDeps,
  collection: CollectionRow,
): Promise<{ seconds: number; errors: number }> {
  const started = performance.now()
  let errors = 0
  for (const source of sources) {
    const job = await createIngestJob(deps, {
      collection,
      mode: 'upsert',
      files: source.files,
      options: source.load,
    })
    const claimed = await claimJob(deps.db.pool, 'bench', 600_000, job.id)
    const outcome = await runJob(deps, claimed!, 'bench', {
      onProgress: (p) => {
        if (process.env.BENCH_VERBOSE)
          process.stderr.write(`  ${source.label}: ${p.documents.done}/${p.documents.total}\n`)
      },
    })
    const finished = await findJob(deps.db.pool, job.id)
    if (outcome !== 'succeeded') throw new Error(`ingest failed: ${finished?.error}`)
    errors += finished?.errors.length ?? 0
  }
  return { seconds: (performance.now() - started) / 1000, errors }
}

const dbName = `onbrand_bench_${randomBytes(4).toString('hex')}`
const admin = new pg.Client({ connectionString: serverUrl })
await admin.connect()
await admin.query(`CREATE DATABASE ${dbName}`)
const dbUrl = Object.assign(new URL(serverUrl), { pathname: `/${dbName}` }).toString()
const stub = await startStub()
const db = await openDatabase({ url: dbUrl, dataDir: '', poolSize: 10 })
try {
  await migrate(db.pool)
  const config = loadConfig({ OPENAI_BASE_URL: stub.url, OPENAI_API_KEY: 'bench', LOG_LEVEL: 'silent' })
  const counter = { calls: 0, texts: 0 }
  const deps: IngestDeps = {
    db,
    config,
    createEmbedder: countingFactory(createOpenAIEmbedderFactory(config), counter),
    logger: createLogger('silent'),
  }
  const version = (await db.pool.query<{ v: string }>("SELECT split_part(version(), ' on ', 1) AS v"))
    .rows[0]!.v
  const vectorVersion = (
    await db.pool.query<{ v: string }>("SELECT extversion AS v FROM pg_extension WHERE extname = 'vector'")
  ).rows[0]!.v

  const onbrandSeconds: number[] = []
  const langchainSeconds: number[] = []
  const langchainHnswSeconds: number[] = []
  let chunkCount = 0
  let documentCount = 0
  let firstCalls = 0
  let loadErrors = 0
  let last: CollectionRow | undefined
  for (let rep = 0; rep < REPS; rep++) {
    const collection = await createCollection(db.pool, {
      name: `bench-${rep}`,
      embeddingModel: MODEL,
      embeddingDimensions: DIMS,
    })
    counter.calls = 0
    const run = await ingestAll(deps, collection)
    onbrandSeconds.push(run.seconds)
    firstCalls = counter.calls
    loadErrors = run.errors
    const { rows } = await db.pool.query<{ chunks: number; docs: number }>(
      `SELECT (SELECT count(*)::int FROM chunks WHERE collection_id = $1) AS chunks,
              (SELECT count(*)::int FROM documents WHERE collection_id = $1) AS docs`,
      [collection.id],
    )
    chunkCount = rows[0]!.chunks
    documentCount = rows[0]!.docs
    last = collection

    // The baseline gets the exact texts Onbrand embedded, already chunked: it does no parsing or diffing.
    langchainSeconds.push(
      await runBaseline(dbUrl, collection.id, stub.url, `langchain_bench_${rep}`, config, 'none'),
    )
    langchainHnswSeconds.push(
      await runBaseline(dbUrl, collection.id, stub.url, `langchain_hnsw_bench_${rep}`, config, 'hnsw'),
    )
    process.stderr.write(
      `rep ${rep + 1}/${REPS}: onbrand ${run.seconds.toFixed(2)} s, PGVectorStore ${langchainSeconds.at(-1)!.toFixed(2)} s (HNSW ${langchainHnswSeconds.at(-1)!.toFixed(2)} s), ${chunkCount} chunks\n`,
    )
  }

  const rerunSeconds: number[] = []
  const rerunCalls: number[] = []
  for (let rep = 0; rep < REPS; rep++) {
    counter.calls = 0
    rerunSeconds.push((await ingestAll(deps, last!)).seconds)
    rerunCalls.push(counter.calls)
  }

  const onbrand = median(onbrandSeconds)
  const langchain = median(langchainSeconds)
  const langchainHnsw = median(langchainHnswSeconds)
  const fileCount = sources.reduce((n, s) => n + s.files.length, 0)
  const section = `Command: \`npm run bench:ingest\` (${version}, pgvector ${vectorVersion}, ${new Date().toISOString().slice(0, 10)}, 2-core shared machine).

The full shared corpora: ${fileCount} files (the govau, 18F and Mailchimp style guides; Magento Luma
product CSVs; the Best Buy product JSON) → ${documentCount.toLocaleString('en')} documents →
${chunkCount.toLocaleString('en')} chunks (CHUNK_MAX_TOKENS ${config.CHUNK_MAX_TOKENS}, overlap ${config.CHUNK_OVERLAP_TOKENS}),
${loadErrors} per-row errors (duplicate or missing ids in the exports). Embeddings: ${DIMS} dimensions from the
OpenAI-wire stub (\`test/support/openai-stub.ts\`, zero latency, in the same process), batches of
${config.EMBEDDING_BATCH_SIZE}, ${config.EMBEDDING_CONCURRENCY} in flight, through \`@langchain/openai\` \`OpenAIEmbeddings\` on both sides.
Median of ${REPS} runs, each into a fresh collection / table.

| System | Time (s) | Chunks/s | vs PGVectorStore |
| --- | ---: | ---: | ---: |
| Onbrand first ingest (read, parse, chunk, hash, diff, embed, swap per group, job progress; HNSW + full-text indexes) | ${onbrand.toFixed(2)} | ${Math.round(chunkCount / onbrand).toLocaleString('en')} | ${(langchain / onbrand).toFixed(2)}× |
| LangChain \`PGVectorStore.addDocuments\` on the same chunk texts (embed + insert only, no index) | ${langchain.toFixed(2)} | ${Math.round(chunkCount / langchain).toLocaleString('en')} | 1.00× |
| The same, into a table with LangChain's HNSW index (as every Onbrand collection has) | ${langchainHnsw.toFixed(2)} | ${Math.round(chunkCount / langchainHnsw).toLocaleString('en')} | ${(langchain / langchainHnsw).toFixed(2)}× |
| Onbrand re-ingest of the unchanged corpus | ${median(rerunSeconds).toFixed(2)} | — | — |

- Embedding requests: first ingest ${firstCalls}; unchanged re-ingest **${rerunCalls.join(', ')}** (target 0).
- Ratio = PGVectorStore time / Onbrand time (above 1 means Onbrand is faster). The baseline is handed
  ready-made chunks, so it skips the loading, chunking, hashing and diffing Onbrand's time includes.
- Onbrand runs per rep: ${onbrandSeconds.map((s) => s.toFixed(2)).join(', ')} s; PGVectorStore: ${langchainSeconds.map((s) => s.toFixed(2)).join(', ')} s; with HNSW: ${langchainHnswSeconds.map((s) => s.toFixed(2)).join(', ')} s.
- Each baseline runs in its own process (\`bench/ingest-baseline.ts\`) against the same database and stub.
`
  writeSection('BENCHMARKS.md', '## Ingestion', section)
  process.stdout.write(`${section}\n`)
} finally {
  await db.close()
  await stub.close()
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)
  await admin.end()
}

function writeSection(path: string, heading: string, body: string): void {
  const current = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n'
  const block = `${heading}\n\n${body.trimEnd()}\n`
  const start = current.indexOf(`${heading}\n`)
  if (start === -1) {
    writeFileSync(path, `${current.trimEnd()}\n\n${block}`)
    return
  }
  const next = current.indexOf('\n## ', start + heading.length)
  writeFileSync(path, current.slice(0, start) + block + (next === -1 ? '' : current.slice(next)))
}
