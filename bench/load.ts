/**
 * Load: 200 closed-loop clients for 60 s on POST /v1/generate against the real server (`onbrand server`
 * in a child process, as `npm start` runs it) on PostgreSQL, with the zero-latency OpenAI-wire stub as
 * the model. Reports requests, errors, throughput, latency percentiles and the server's memory. A 1-client
 * run first gives the unloaded service time, to tell queueing from work. The loaded run is made twice in a
 * row, then the server idles for a settle period: RSS (sampled every second from /proc) and the V8 heap
 * (from /metrics) at start, after each run and at the end of the settle period show whether memory grows
 * from one run to the next or levels off.
 *
 *   npm run bench:load   (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres;
 *                         BENCH_DATABASE=embedded runs the server on the embedded PGlite database instead;
 *                         BENCH_CLIENTS, default 200; BENCH_SECONDS, default 60; BENCH_SETTLE_SECONDS, default 30)
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createKey } from '../src/auth/manage-keys.js'
import { ensureVectorAvailable, migrate } from '../src/db/migrate.js'
import { type Database, openDatabase } from '../src/db/pool.js'
import { loadTaskDirectory } from '../src/tasks/load-tasks.js'
import { ingestDeps, ingestNow, makeCollection, readFolder } from '../test/ingest/ingest-harness.js'
import { freePort, spawnServer } from '../test/support/spawn-server.js'
import type { LoadSpec, LoadSummary } from './load-client.js'
import { createBenchDatabase } from './support/bench-database.js'
import { benchModelRegistry } from './support/bench-models.js'
import { writeSection } from './support/benchmarks-file.js'

const SERVER_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const DB_NAME = 'onbrand_bench_load'
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 200)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 60)
const SETTLE_SECONDS = Number(process.env.BENCH_SETTLE_SECONDS ?? 30)
const EMBEDDED = process.env.BENCH_DATABASE === 'embedded'
const METRICS_TOKEN = 'bench-load-metrics-token'
const BASELINE_SECONDS = 10
const POOL_SIZE = 10
const TASK = 'product-description'

const log = (message: string) => process.stderr.write(`[bench:load] ${message}\n`)
const children: ChildProcess[] = []
process.on('exit', () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
})

// --- model stub and database -----------------------------------------------------------------------
const stubPort = await freePort()
const stub = spawn(
  process.execPath,
  ['--import', 'tsx', 'test/support/openai-stub-cli.ts', '--port', String(stubPort), '--dimensions', '64'],
  { stdio: ['ignore', 'ignore', 'inherit'] },
)
children.push(stub)
const stubUrl = `http://127.0.0.1:${stubPort}/v1`
for (let i = 0; ; i++) {
  try {
    // Any answer will do: the stub serves only chat and embeddings, so /models is a 404.
    if ((await fetch(`${stubUrl}/models`)).status < 500) break
  } catch {}
  if (i > 200) throw new Error('the model stub never answered')
  await new Promise((resolve) => setTimeout(resolve, 100))
}

// The example guidelines and products (licensed for reuse, see examples/NOTICE.md), through the real pipeline.
// Embedded: a data folder of the bench's own, seeded here, then closed (its lock released) for the server.
const dataDir = join(mkdtempSync(join(tmpdir(), 'onbrand-bench-load-')), 'db')
async function openBenchDatabase(): Promise<{ db: Database; url: string }> {
  if (!EMBEDDED) return createBenchDatabase(SERVER_URL, DB_NAME)
  const db = await openDatabase({ dataDir, poolSize: 1 })
  await ensureVectorAvailable(db.pool)
  await migrate(db.pool)
  return { db, url: '' }
}
const { db, url: dbUrl } = await openBenchDatabase()
const collection = await makeCollection(db, 'brand', 64)
const files = [...readFolder('examples/guidelines'), ...readFolder('examples/products')]
const ingested = await ingestNow(ingestDeps(db, stubUrl), collection, files)
if (ingested.status !== 'succeeded') throw new Error(`seeding failed: ${ingested.error}`)
const { rows: seeded } = await db.pool.query<{ documents: number; chunks: number }>(
  `SELECT (SELECT count(*)::int FROM documents WHERE collection_id = $1) AS documents,
          (SELECT count(*)::int FROM chunks WHERE collection_id = $1) AS chunks`,
  [collection.id],
)
await loadTaskDirectory(db.pool, benchModelRegistry(db.pool), 'examples/tasks')
const { key } = await createKey(db.pool, { name: 'bench-load', scopes: ['generate'] })
await db.close()
log(`seeded ${seeded[0]!.documents} documents, ${seeded[0]!.chunks} chunks; tasks from examples/tasks`)

// --- server ----------------------------------------------------------------------------------------
const server = await spawnServer(
  {
    ...(EMBEDDED ? { DATA_DIR: dataDir } : { DATABASE_URL: dbUrl }),
    METRICS_TOKEN,
    OPENAI_BASE_URL: stubUrl,
    OPENAI_API_KEY: 'bench',
    DB_POOL_SIZE: String(POOL_SIZE),
    LOG_LEVEL: 'info',
    BOOTSTRAP_ADMIN_KEY: 'false',
    RUN_WORKER: 'false',
    // High enough for one key to drive the whole load, but enforced: the limiter claims blocks of the
    // key's minute and charges tokens as it would with any limit (0 would skip it).
    RATE_LIMIT_RPM: '1000000',
    RATE_LIMIT_TPM: '1000000000',
  },
  { nodeArgs: ['--expose-gc', '--import', './bench/support/gc-on-signal.ts'] },
)
children.push(server.child)
const serverPid = server.child.pid!

function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match ? Number(match[1]) / 1024 : Number.NaN
}
const samples: { at: number; mb: number }[] = []
const sampler = setInterval(() => samples.push({ at: Date.now(), mb: rssMb(serverPid) }), 1000)

/**
 * RSS from /proc, and the V8 heap and the memory V8 counts outside it (buffers) from the server's /metrics;
 * then the server collects its garbage (SIGUSR2, bench/support/gc-on-signal.ts) and the heap and RSS are read
 * again: what the heap holds after a full collection is what the server keeps, the rest was garbage.
 */
interface Memory {
  rss: number
  heapUsed: number
  heapTotal: number
  external: number
  rssAfterGc: number
  heapUsedAfterGc: number
}
async function gauges(): Promise<{ heapUsed: number; heapTotal: number; external: number }> {
  const text = await (
    await fetch(`${server.baseUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
  ).text()
  const gauge = (name: string) => {
    const match = new RegExp(`^onbrand_${name} (\\S+)$`, 'm').exec(text)
    return match ? Number(match[1]) / 1024 / 1024 : Number.NaN
  }
  return {
    heapUsed: gauge('nodejs_heap_size_used_bytes'),
    heapTotal: gauge('nodejs_heap_size_total_bytes'),
    external: gauge('nodejs_external_memory_bytes'),
  }
}
async function memory(): Promise<Memory> {
  const rss = rssMb(serverPid)
  const before = await gauges()
  server.child.kill('SIGUSR2')
  await new Promise((resolve) => setTimeout(resolve, 2000))
  const after = await gauges()
  return { rss, ...before, rssAfterGc: rssMb(serverPid), heapUsedAfterGc: after.heapUsed }
}
const idle = await memory()

async function load(clients: number, seconds: number): Promise<LoadSummary> {
  const spec: LoadSpec = {
    url: `${server.baseUrl}/v1/generate`,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      task: TASK,
      input: 'Describe the Joust Duffle Bag for weekend travellers.',
      variables: { brand: 'Luma', audience: 'weekend travellers' },
    }),
    clients,
    durationMs: seconds * 1000,
    timeoutMs: 30_000,
  }
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/load-client.ts', JSON.stringify(spec)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.push(child)
  let out = ''
  child.stdout.on('data', (chunk) => {
    out += String(chunk)
  })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  if (code !== 0) throw new Error(`load client exited ${code}`)
  return JSON.parse(out) as LoadSummary
}

const baseline = await load(1, BASELINE_SECONDS)
log(`1 client: ${baseline.ok} ok, p50 ${baseline.latency.p50.toFixed(1)} ms`)
const start = await memory()
const loadBefore = loadavg()[0]!
const loadStarted = Date.now()
const run = await load(CLIENTS, SECONDS)
const afterRun1 = await memory()
log(`run 1 completed per second: ${run.perSecond.join(' ')}`)
const run2 = await load(CLIENTS, SECONDS)
const afterRun2 = await memory()
const loadAfter = loadavg()[0]!
log(`run 2 completed per second: ${run2.perSecond.join(' ')}`)
// No traffic: what the server gives back, or keeps, once the load is gone.
await new Promise((resolve) => setTimeout(resolve, SETTLE_SECONDS * 1000))
const settled = await memory()
clearInterval(sampler)
const duringMb = samples.filter((s) => s.at >= loadStarted).map((s) => s.mb)
const maxMb = Math.max(start.rss, afterRun1.rss, afterRun2.rss, ...duringMb)
server.child.kill('SIGTERM')
const serverExit = await server.exited
const serverErrorLines = server
  .output()
  .split('\n')
  .filter((line) => /"level":(50|60)/.test(line))

// Generations rows are written in batches off the request path; after a clean shutdown every answered
// request must have its row.
const check = await openDatabase({ url: dbUrl, dataDir, poolSize: 1 })
const { rows: logged } = await check.pool.query<{ n: number }>(
  `SELECT count(*)::int AS n FROM generations WHERE status = 'succeeded'`,
)
await check.close()
const answered = baseline.ok + run.ok + run2.ok
const rowsWritten = logged[0]!.n
log(`generations rows: ${rowsWritten} for ${answered} answered requests`)

// --- report ----------------------------------------------------------------------------------------
const fmt = (n: number, digits = 1) => n.toFixed(digits)
const errorsOf = (r: LoadSummary) => r.requests - r.ok
const socketErrorsOf = (r: LoadSummary) => Object.values(r.socketErrors).reduce((a, b) => a + b, 0)
const errors = errorsOf(run) + errorsOf(run2)
const requests = run.requests + run2.requests
const errorRate = errors / Math.max(1, requests)
const rps = run.ok / run.seconds
const littleMs = (CLIENTS / rps) * 1000
const waitShare = 1 - baseline.latency.p50 / run.latency.p50
// The tail is queueing when the loaded p99 sits near the loaded p50 (everyone waits about as long), far
// above the unloaded p99; it is slow requests when p99 stands well apart from p50.
const queueingVerdict =
  run.latency.p99 > 3 * baseline.latency.p99 && run.latency.p99 < 3 * run.latency.p50
    ? 'the tail is dominated by queueing rather than by individually slow requests'
    : 'the tail is not simply queueing: some requests are individually slow (see the max)'
const breakdown = (record: Record<string, number>) =>
  Object.entries(record)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ') || 'none'
const row = (label: string, r: LoadSummary) =>
  `| ${label} | ${r.clients} | ${fmt(r.seconds, 0)} | ${r.requests} | ${errorsOf(r)} | ${fmt((errorsOf(r) / Math.max(1, r.requests)) * 100, 2)}% | ${fmt(r.ok / r.seconds)} | ${fmt(r.latency.p50)} | ${fmt(r.latency.p90)} | ${fmt(r.latency.p99)} | ${fmt(r.latency.max)} |`
const memoryRow = (label: string, m: Memory) =>
  `| ${label} | ${fmt(m.rss)} | ${fmt(m.heapUsed)} | ${fmt(m.heapTotal)} | ${fmt(m.external)} | ${fmt(m.heapUsedAfterGc)} | ${fmt(m.rssAfterGc)} |`
const growth = afterRun2.rss - afterRun1.rss
const heapGrowth = afterRun2.heapUsedAfterGc - afterRun1.heapUsedAfterGc
// A leak of even 1 KB a request would show as several MB over a run's thousands of requests.
const growthVerdict =
  heapGrowth < 5
    ? `**No growth from run to run**: the heap held after a full collection moved ${fmt(heapGrowth)} MB from the end of run 1 to the end of run 2, over ${run2.ok} more answered requests (${fmt((heapGrowth * 1024 * 1024) / Math.max(1, run2.ok), 0)} bytes a request).`
    : `**The heap held after a full collection grew ${fmt(heapGrowth)} MB from run 1 to run 2** (${fmt((heapGrowth * 1024 * 1024) / Math.max(1, run2.ok), 0)} bytes a request): something keeps per-request memory.`
log(
  `${CLIENTS} clients: ${requests} requests in two runs, ${errors} errors, ${fmt(rps)} req/s (run 1), ` +
    `RSS ${fmt(idle.rss)} idle, ${fmt(afterRun1.rss)} after run 1, ${fmt(afterRun2.rss)} after run 2, ${fmt(settled.rss)} settled MB`,
)
const databaseName = EMBEDDED
  ? 'the embedded PGlite database (DATA_DIR on local disk)'
  : 'PostgreSQL on 127.0.0.1'
const heading = EMBEDDED ? '## Load, embedded database' : '## Load'

const section = `${heading}

\`POST /v1/generate\` (task \`${TASK}\` from examples/tasks, non-streaming text, k = 8) against the real server,
\`onbrand server\` run as \`npm start\` runs it (through tsx) in a process of its own, on ${databaseName},
with the OpenAI-wire stub (\`test/support/openai-stub-cli.ts\`, zero latency) as model and embedder. The
collection is the examples' ${seeded[0]!.documents} documents (${seeded[0]!.chunks} chunks, 64-dimension stub embeddings),
ingested through the real pipeline into a fresh database. Server settings: DB_POOL_SIZE=${POOL_SIZE}${EMBEDDED ? ' (the embedded database is one session, so its pool holds one connection)' : ''}, RUN_WORKER=false,
LOG_LEVEL=info (one access log line per request), and **RATE_LIMIT_RPM=1000000, RATE_LIMIT_TPM=1000000000**:
every request uses one API key, which the default limits (600 requests a minute) would throttle; these limits
are enforced as any other (the limiter claims blocks of 50,000 requests and sends token charges every 250 ms)
but are never reached. The load generator (\`bench/load-client.ts\`) is a closed loop in
a process of its own: ${CLIENTS} keep-alive connections (node:http agent), each sending its next request as soon as
the last answered, for ${SECONDS} s, 30 s per-request timeout; an error is any non-2xx answer or a request with no
answer (socket error or timeout). Before the load, one client for ${BASELINE_SECONDS} s measures the unloaded service time;
then the ${CLIENTS}-client run is made **twice in a row**, and the server idles for ${SETTLE_SECONDS} s before it is stopped.
Machine: 2 shared cores running the load generator, the stub, the server${EMBEDDED ? '' : ' and PostgreSQL'} at once, so absolute numbers are modest.

Command: \`${EMBEDDED ? 'BENCH_DATABASE=embedded npm run bench:load' : 'npm run bench:load'}\`

| run | clients | s | requests | errors | error rate | req/s | p50 ms | p90 ms | p99 ms | max ms |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${row('unloaded', baseline)}
${row('run 1', run)}
${row('run 2', run2)}

Server memory. RSS is VmRSS from /proc/<pid>/status; the heap (used and reserved) and "external" (memory
V8 accounts for outside its heap: buffers${EMBEDDED ? " and the embedded database's WebAssembly memory" : ', mostly'}) are the server's own \`nodejs_*\` gauges
from /metrics, read at the same moment. Then the server runs a full garbage collection (the bench starts it with
\`--expose-gc\` and a SIGUSR2 handler, \`bench/support/gc-on-signal.ts\`) and the heap and RSS are read again 2 s later:
the heap after a full collection is what the server really holds.

| when | RSS MB | heap used MB | heap total MB | external MB | heap used after GC MB | RSS after GC MB |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
${memoryRow('idle after start', idle)}
${memoryRow('after the 1-client run', start)}
${memoryRow(`end of run 1 (${CLIENTS} clients)`, afterRun1)}
${memoryRow(`end of run 2 (${CLIENTS} clients)`, afterRun2)}
${memoryRow(`steady: ${SETTLE_SECONDS} s after the load stopped`, settled)}

- From the end of run 1 to the end of run 2: RSS **${growth >= 0 ? '+' : ''}${fmt(growth)} MB** (${fmt((growth / afterRun1.rss) * 100)}%), heap held after a full
  collection **${heapGrowth >= 0 ? '+' : ''}${fmt(heapGrowth)} MB**; RSS ${fmt(maxMb)} MB at most
  (${duringMb.length} one-second samples from the start of run 1 to the end of the settle period).
- ${growthVerdict}
- What the memory is: the heap held after a full collection is ${fmt(idle.heapUsedAfterGc)} MB idle and ${fmt(settled.heapUsedAfterGc)} MB at steady
  state; the difference is code V8 compiled for the request paths and the bounded caches (API keys, active task
  versions, query embeddings, the tokenizer's piece cache, up to 32 chat-model clients per model, metric label
  sets). RSS above that is heap V8 grew under load and keeps for a while (heap total ${fmt(afterRun2.heapTotal)} MB at the end of
  run 2) and memory the allocator keeps${EMBEDDED ? `, plus PGlite's WebAssembly memory (external, ${fmt(settled.external)} MB: the embedded database's own memory, taken at start)` : ''}; a full collection
  gives part of it back (RSS ${fmt(settled.rssAfterGc)} MB after one at steady state).
- Expected steady state on this machine: about ${fmt(settled.rss, 0)} MB RSS (${fmt(settled.rssAfterGc, 0)} MB after a full collection) and ${fmt(settled.heapUsedAfterGc, 0)} MB of
  held heap, the same after each further run. Two causes of growth without bound were found and fixed: a chat-model client kept per
  (temperature, max_tokens) forever (now an LRU of 32 per model), and, on Node 20, about 2.5 KB kept for good by
  every model call through \`AbortSignal.any\` (its signal stays alive while the SDK's abort listener is on it;
  now a plain linked controller, \`src/lib/abort.ts\`, measured by \`test/generation/model-memory.test.ts\`).
- Error rate over both ${CLIENTS}-client runs: **${fmt(errorRate * 100, 2)}%** (target 0): statuses ${breakdown(run.statuses)} and ${breakdown(run2.statuses)};
  socket errors ${breakdown(run.socketErrors)} and ${breakdown(run2.socketErrors)} (${socketErrorsOf(run) + socketErrorsOf(run2)});
  error-level lines in the server log: ${serverErrorLines.length}. The server then stopped on SIGTERM with exit code ${serverExit}.
- Generation log: **${rowsWritten} \`generations\` rows for ${answered} answered requests** (all three runs), counted after the
  server's SIGTERM shutdown; the rows are written in batches after the responses leave, and shutdown writes what is queued.
- Requests completed in each second of run 1: ${run.perSecond.join(' ')}. Per request the server takes a pool
  connection for two statements (the collection lookup and the search); key rows are cached, rate limits are
  admitted from claimed blocks, and generations rows are written in batches (one statement per 50 ms). pg's
  pool queue is first-come first-served, so ${CLIENTS} requests queue for each of the ${POOL_SIZE} connections in turn.
- Machine load (1-minute load average) at the start of run 1 and the end of run 2: ${fmt(loadBefore)} and ${fmt(loadAfter)}
  (2 cores; anything above 2 means other work was competing for the CPU).
- Queueing (run 1): with a closed loop, Little's law puts the mean latency at clients / throughput = ${fmt(littleMs)} ms
  (measured mean ${fmt(run.latency.mean)} ms). The unloaded p50 is ${fmt(baseline.latency.p50)} ms, so about ${fmt(waitShare * 100, 0)}% of the loaded
  p50 is waiting (for the CPU, the pool of ${POOL_SIZE} connections and the database), not work; p99 (${fmt(run.latency.p99)} ms) is
  ${fmt(run.latency.p99 / baseline.latency.p99)}× the unloaded p99 and ${fmt(run.latency.p99 / run.latency.p50)}× the loaded p50, so ${queueingVerdict}.
`
writeSection('BENCHMARKS.md', heading, section)
log(`wrote the ${heading.slice(3)} section of BENCHMARKS.md`)
process.exit(0)
