/**
 * Load: 200 closed-loop clients for 60 s on POST /v1/generate against the real server (`onbrand server`
 * in a child process, as `npm start` runs it) on PostgreSQL, with the zero-latency OpenAI-wire stub as
 * the model. Reports requests, errors, throughput, latency percentiles and the server's RSS, sampled
 * every second from /proc. A 1-client run first gives the unloaded service time, to tell queueing from work.
 *
 *   npm run bench:load   (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres;
 *                         BENCH_CLIENTS, default 200; BENCH_SECONDS, default 60)
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { createKey } from '../src/auth/manage-keys.js'
import { openDatabase } from '../src/db/pool.js'
import { loadTaskDirectory } from '../src/tasks/load-tasks.js'
import { ingestDeps, ingestNow, makeCollection, readFolder } from '../test/ingest/ingest-harness.js'
import { freePort, spawnServer } from '../test/support/spawn-server.js'
import type { LoadSpec, LoadSummary } from './load-client.js'
import { writeSection } from './retrieval-data.js'
import { createBenchDatabase } from './support/bench-database.js'

const SERVER_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const DB_NAME = 'onbrand_bench_load'
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 200)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 60)
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
const { db, url: dbUrl } = await createBenchDatabase(SERVER_URL, DB_NAME)
const collection = await makeCollection(db, 'brand', 64)
const files = [...readFolder('examples/guidelines'), ...readFolder('examples/products')]
const ingested = await ingestNow(ingestDeps(db, stubUrl), collection, files)
if (ingested.status !== 'succeeded') throw new Error(`seeding failed: ${ingested.error}`)
const { rows: seeded } = await db.pool.query<{ documents: number; chunks: number }>(
  `SELECT (SELECT count(*)::int FROM documents WHERE collection_id = $1) AS documents,
          (SELECT count(*)::int FROM chunks WHERE collection_id = $1) AS chunks`,
  [collection.id],
)
await loadTaskDirectory(db.pool, 'examples/tasks')
const { key } = await createKey(db.pool, { name: 'bench-load', scopes: ['generate'] })
await db.close()
log(`seeded ${seeded[0]!.documents} documents, ${seeded[0]!.chunks} chunks; tasks from examples/tasks`)

// --- server ----------------------------------------------------------------------------------------
const server = await spawnServer({
  DATABASE_URL: dbUrl,
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
})
children.push(server.child)
const serverPid = server.child.pid!

function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match ? Number(match[1]) / 1024 : Number.NaN
}
const samples: { at: number; mb: number }[] = []
const sampler = setInterval(() => samples.push({ at: Date.now(), mb: rssMb(serverPid) }), 1000)
const idleMb = rssMb(serverPid)

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
const startMb = rssMb(serverPid)
const loadBefore = loadavg()[0]!
const loadStarted = Date.now()
const run = await load(CLIENTS, SECONDS)
const endMb = rssMb(serverPid)
const loadAfter = loadavg()[0]!
log(`completed per second: ${run.perSecond.join(' ')}`)
clearInterval(sampler)
const duringMb = samples.filter((s) => s.at >= loadStarted).map((s) => s.mb)
const maxMb = Math.max(startMb, endMb, ...duringMb)
server.child.kill('SIGTERM')
const serverExit = await server.exited
const serverErrorLines = server
  .output()
  .split('\n')
  .filter((line) => /"level":(50|60)/.test(line))

// Generations rows are written in batches off the request path; after a clean shutdown every answered
// request must have its row.
const check = await openDatabase({ url: dbUrl, dataDir: '', poolSize: 1 })
const { rows: logged } = await check.pool.query<{ n: number }>(
  `SELECT count(*)::int AS n FROM generations WHERE status = 'succeeded'`,
)
await check.close()
const answered = baseline.ok + run.ok
const rowsWritten = logged[0]!.n
log(`generations rows: ${rowsWritten} for ${answered} answered requests`)

// --- report ----------------------------------------------------------------------------------------
const socketErrors = Object.values(run.socketErrors).reduce((a, b) => a + b, 0)
const errors = run.requests - run.ok
const errorRate = errors / Math.max(1, run.requests)
const rps = run.ok / run.seconds
const littleMs = (CLIENTS / rps) * 1000
const waitShare = 1 - baseline.latency.p50 / run.latency.p50
const fmt = (n: number, digits = 1) => n.toFixed(digits)
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
log(
  `${CLIENTS} clients: ${run.requests} requests, ${errors} errors, ${fmt(rps)} req/s, ` +
    `p50 ${fmt(run.latency.p50)} ms, p99 ${fmt(run.latency.p99)} ms, RSS ${fmt(startMb)} → ${fmt(endMb)} MB`,
)

const section = `## Load

\`POST /v1/generate\` (task \`${TASK}\` from examples/tasks, non-streaming text, k = 8) against the real server,
\`onbrand server\` run as \`npm start\` runs it (through tsx) in a process of its own, on PostgreSQL on 127.0.0.1,
with the OpenAI-wire stub (\`test/support/openai-stub-cli.ts\`, zero latency) as model and embedder. The
collection is the examples' ${seeded[0]!.documents} documents (${seeded[0]!.chunks} chunks, 64-dimension stub embeddings),
ingested through the real pipeline into a fresh database. Server settings: DB_POOL_SIZE=${POOL_SIZE}, RUN_WORKER=false,
LOG_LEVEL=info (one access log line per request), and **RATE_LIMIT_RPM=1000000, RATE_LIMIT_TPM=1000000000**:
every request uses one API key, which the default limits (600 requests a minute) would throttle; these limits
are enforced as any other (the limiter claims blocks of 50,000 requests and sends token charges every 250 ms)
but are never reached. The load generator (\`bench/load-client.ts\`) is a closed loop in
a process of its own: ${CLIENTS} keep-alive connections (node:http agent), each sending its next request as soon as
the last answered, for ${SECONDS} s, 30 s per-request timeout; an error is any non-2xx answer or a request with no
answer (socket error or timeout). RSS is the server process's VmRSS from /proc/<pid>/status, sampled every second.
Before the load, one client for ${BASELINE_SECONDS} s measures the unloaded service time. Machine: 2 shared cores
running the load generator, the stub, the server and PostgreSQL at once, so absolute numbers are modest.

Command: \`npm run bench:load\`

| clients | s | requests | errors | error rate | req/s | p50 ms | p90 ms | p99 ms | max ms |
| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
| 1 | ${fmt(baseline.seconds, 0)} | ${baseline.requests} | ${baseline.requests - baseline.ok} | ${fmt(((baseline.requests - baseline.ok) / Math.max(1, baseline.requests)) * 100, 2)}% | ${fmt(baseline.ok / baseline.seconds)} | ${fmt(baseline.latency.p50)} | ${fmt(baseline.latency.p90)} | ${fmt(baseline.latency.p99)} | ${fmt(baseline.latency.max)} |
| ${CLIENTS} | ${fmt(run.seconds, 0)} | ${run.requests} | ${errors} | ${fmt(errorRate * 100, 2)}% | ${fmt(rps)} | ${fmt(run.latency.p50)} | ${fmt(run.latency.p90)} | ${fmt(run.latency.p99)} | ${fmt(run.latency.max)} |

- Error rate at ${CLIENTS} clients: **${fmt(errorRate * 100, 2)}%** (target 0): statuses ${breakdown(run.statuses)}; socket errors ${breakdown(run.socketErrors)} (${socketErrors});
  error-level lines in the server log: ${serverErrorLines.length}.
- Generation log: **${rowsWritten} \`generations\` rows for ${answered} answered requests** (both runs), counted after the
  server's SIGTERM shutdown; the rows are written in batches after the responses leave, and shutdown writes what is queued.
- Server RSS: ${fmt(idleMb)} MB idle after start, **${fmt(startMb)} MB at the start** of the ${CLIENTS}-client run (after the 1-client run),
  **${fmt(endMb)} MB at the end**, ${fmt(maxMb)} MB at most (${duringMb.length} samples). The server then stopped on SIGTERM with exit code ${serverExit}.
- Requests completed in each second of the run: ${run.perSecond.join(' ')}. Per request the server takes a pool
  connection for two statements (the collection lookup and the search); key rows are cached, rate limits are
  admitted from claimed blocks, and generations rows are written in batches (one statement per 50 ms). pg's
  pool queue is first-come first-served, so ${CLIENTS} requests queue for each of the ${POOL_SIZE} connections in turn.
- Machine load (1-minute load average) at the start and end of the ${CLIENTS}-client run: ${fmt(loadBefore)} and ${fmt(loadAfter)}
  (2 cores; anything above 2 means other work was competing for the CPU).
- Queueing: with a closed loop, Little's law puts the mean latency at clients / throughput = ${fmt(littleMs)} ms
  (measured mean ${fmt(run.latency.mean)} ms). The unloaded p50 is ${fmt(baseline.latency.p50)} ms, so about ${fmt(waitShare * 100, 0)}% of the loaded
  p50 is waiting (for the CPU, the pool of ${POOL_SIZE} connections and PostgreSQL), not work; p99 (${fmt(run.latency.p99)} ms) is
  ${fmt(run.latency.p99 / baseline.latency.p99)}× the unloaded p99 and ${fmt(run.latency.p99 / run.latency.p50)}× the loaded p50, so ${queueingVerdict}.
`
writeSection('BENCHMARKS.md', '## Load', section)
log('wrote the Load section of BENCHMARKS.md')
process.exit(0)
