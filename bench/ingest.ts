/**
 * Ingestion throughput against its baselines, on real PostgreSQL and on the embedded PGlite:
 *
 *   npm run bench:ingest     (BENCH_DATABASE_URL or TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres;
 *                             BENCH_REPS, default 3; BENCH_TARGETS, default postgres,embedded)
 *
 * Starts the OpenAI-wire stub in its own process, then runs bench/ingest-run.ts once per database, each
 * in a fresh process (cold caches, as a worker's first job): a profiled first ingest of the full
 * shared corpora, then per rep Onbrand's first ingest, LangChain's PGVectorStore.addDocuments of the
 * same chunk texts (plain and HNSW-indexed table) and the floor (the same rows by binary COPY, indexes
 * built afterwards), then unchanged re-ingests. Writes the "## Ingestion" section of BENCHMARKS.md.
 */
import { loadavg } from 'node:os'
import { loadConfig } from '../src/config.js'
import type { TargetResult } from './ingest-run.js'
import { writeSection } from './support/benchmarks-file.js'
import { DIMS, median } from './support/ingest-session.js'
import { runJsonChild } from './support/json-child.js'
import { startStubProcess } from './support/stub-process.js'

const REPS = Number(process.env.BENCH_REPS ?? 3)
const TARGETS = (process.env.BENCH_TARGETS ?? 'postgres,embedded').split(',')
const serverUrl =
  process.env.BENCH_DATABASE_URL ??
  process.env.TEST_DATABASE_URL ??
  'postgres://postgres@127.0.0.1:5432/postgres'

function runTarget(kind: string, stubUrl: string): Promise<TargetResult> {
  return runJsonChild<TargetResult>('bench/ingest-run.ts', [kind, serverUrl, stubUrl, String(REPS)])
}

const s2 = (seconds: number) => seconds.toFixed(2)
const ms = (value: number) => Math.round(value).toLocaleString('en')
const load = (values: number[]) => values.map((v) => v.toFixed(1)).join(' ')

function targetSection(r: TargetResult): string {
  const onbrand = median(r.onbrand)
  const langchain = median(r.langchain)
  const hnsw = median(r.langchainHnsw)
  const floor = median(r.floor.map((f) => f.seconds))
  const rate = (seconds: number) => Math.round(r.chunks / seconds).toLocaleString('en')
  const medianFloor = r.floor.reduce((best, f) =>
    Math.abs(f.seconds - floor) < Math.abs(best.seconds - floor) ? f : best,
  )
  const wall = r.profile.seconds * 1000
  const cpuRows = Object.entries(r.profile.cpu)
    .sort((a, b) => b[1] - a[1])
    .filter(([, value]) => value >= 5)
    .map(([category, value]) => `| ${category} | ${ms(value)} | ${((100 * value) / wall).toFixed(0)}% |`)
  const statementRows = Object.entries(r.profile.statements)
    .sort((a, b) => b[1].ms - a[1].ms)
    .map(
      ([category, stat]) =>
        `| ${category} | ${stat.count} | ${ms(stat.ms)} | ${((100 * stat.ms) / wall).toFixed(0)}% |`,
    )
  const backend =
    r.profile.backendCpuSeconds === undefined
      ? 'PGlite runs inside this process, so its work is the "database engine" row above.'
      : `The server processes of this database used **${s2(r.profile.backendCpuSeconds)} s of CPU** during the profiled run (utime + stime from /proc; the WAL writer, checkpointer and autovacuum are not counted).`
  return `### ${r.kind === 'postgres' ? 'PostgreSQL' : 'Embedded PGlite'} (${r.label})

Load average (1, 5, 15 min) at start ${load(r.loadAverage.start)}, at end ${load(r.loadAverage.end)}.

| System | Time (s) | Chunks/s | Onbrand ÷ this |
| --- | ---: | ---: | ---: |
| Floor: the same rows by binary COPY into fresh tables, then every index built (HNSW, full-text GIN, btree, keys) | ${s2(floor)} | ${rate(floor)} | ${(onbrand / floor).toFixed(2)}× |
| LangChain \`PGVectorStore.addDocuments\` of the same chunk texts (embed + insert, no index) | ${s2(langchain)} | ${rate(langchain)} | ${(onbrand / langchain).toFixed(2)}× |
| The same into a table with LangChain's HNSW index | ${s2(hnsw)} | ${rate(hnsw)} | ${(onbrand / hnsw).toFixed(2)}× |
| **Onbrand first ingest** (store job files, read, parse, chunk, hash, diff, embed, swap per group, progress; HNSW + full-text indexes) | **${s2(onbrand)}** | ${rate(onbrand)} | 1.00× |
| Onbrand re-ingest of the unchanged corpus | ${s2(median(r.rerun))} | — | — |

- **Speed vs LangChain into an HNSW-indexed table: ${(hnsw / onbrand).toFixed(2)}×** (target ≥ 1.0); vs the plain table ${(langchain / onbrand).toFixed(2)}×. **Onbrand = ${(onbrand / floor).toFixed(2)}× the floor** (target ≤ 3).
- Embedding requests: first ingest ${r.firstCalls}; unchanged re-ingest **${r.rerunCalls.join(', ')}** (target 0).
- Runs (s): Onbrand ${r.onbrand.map(s2).join(', ')}; PGVectorStore ${r.langchain.map(s2).join(', ')}; with HNSW ${r.langchainHnsw.map(s2).join(', ')}; floor ${r.floor.map((f) => s2(f.seconds)).join(', ')}.
- The floor's parts (rep closest to its median): ${medianFloor.parts.map((p) => `${p.label} ${s2(p.seconds)} s`).join('; ')}. It writes no job rows, makes no embedding requests and keeps no guarantee (one bulk load, nothing readable until the end).

Profile of a first ingest (the first in a fresh process: cold caches; profiler on, wall **${s2(r.profile.seconds)} s**).
This process, by a 0.5 ms sampling CPU profile (\`node:inspector\`), each sample charged to the innermost
frame a rule in \`bench/support/ingest-profile.ts\` recognises:

| Where this process's time went | ms | of wall |
| --- | ---: | ---: |
${cpuRows.join('\n')}

Database statements, timed at the client from send to result (they overlap the process's own work:
the next group is prepared while one is written):

| Statement | Count | ms | of wall |
| --- | ---: | ---: | ---: |
${statementRows.join('\n')}

${backend}
`
}

const stub = await startStubProcess(DIMS)
const startLoad = loadavg()
const results: TargetResult[] = []
try {
  for (const kind of TARGETS) results.push(await runTarget(kind, stub.url))
} finally {
  await stub.close()
}
const config = loadConfig({ LOG_LEVEL: 'silent' })
const first = results[0]!
const section = `Command: \`npm run bench:ingest\` (${new Date().toISOString().slice(0, 10)}, 2-core shared machine, load average ${load(startLoad)} at start).

The full shared corpora: ${first.files} files (the govau, 18F and Mailchimp style guides; Magento Luma
product CSVs; the Best Buy product JSON) → ${first.documents.toLocaleString('en')} documents →
${first.chunks.toLocaleString('en')} chunks (CHUNK_MAX_TOKENS ${config.CHUNK_MAX_TOKENS}, overlap ${config.CHUNK_OVERLAP_TOKENS}),
${first.errors} per-row errors (duplicate or missing ids in the exports), as three jobs. Embeddings: ${DIMS}
dimensions from the OpenAI-wire stub (\`test/support/openai-stub.ts\`, zero latency) in a process of its
own, batches of ${config.EMBEDDING_BATCH_SIZE}, ${config.EMBEDDING_CONCURRENCY} in flight, through \`@langchain/openai\` \`OpenAIEmbeddings\` on both sides.
Each database runs in a fresh process; medians of ${REPS} runs, each into a fresh collection / table;
the baselines run in processes of their own (\`bench/ingest-baseline.ts\`; on PGlite each opens its own
on-disk PGlite, as one PGlite belongs to one process). Compare ratios within one database's run, not
seconds across runs: the machine is shared.

${results.map(targetSection).join('\n')}`
writeSection('BENCHMARKS.md', '## Ingestion', section)
process.stdout.write(`${section}\n`)
