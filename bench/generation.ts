/**
 * Generation overhead: POST /v1/generate on Onbrand against a bare Hono handler doing the same
 * retrieve() call and the same ChatOpenAI call, both against a zero-latency OpenAI-wire stub and a
 * real PostgreSQL with a small seeded collection. Each server runs in its own process; the load
 * generator (keep-alive fetch, closed loop) runs here. At each concurrency the two targets are
 * measured in alternating rounds and the medians reported, so drift on a noisy machine hits both.
 *
 *   npm run bench:generation   (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres;
 *                               BENCH_ROUND_SECONDS, default 5; BENCH_ROUNDS, default 7;
 *                               BENCH_WARMUP_SECONDS per target and concurrency, default 10;
 *                               BENCH_CPU_PROF_DIR: write a V8 CPU profile of each server there)
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { createKey } from '../src/auth/manage-keys.js'
import { putTask } from '../src/tasks/manage-tasks.js'
import { TaskDefinition } from '../src/tasks/task-definition.js'
import { seedCollection } from '../test/support/seed-chunks.js'
import { percentile } from './retrieval-data.js'
import { createBenchDatabase } from './support/bench-database.js'
import { benchModelRegistry } from './support/bench-models.js'
import { writeSection } from './support/benchmarks-file.js'

const SERVER_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const DB_NAME = 'onbrand_bench_generation'
const ROUND_MS = Number(process.env.BENCH_ROUND_SECONDS ?? 5) * 1000
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7)
const WARMUP_MS = Number(process.env.BENCH_WARMUP_SECONDS ?? 10) * 1000
const CONCURRENCY = [1, 50]
const CORPUS = join('..', 'shared', 'corpora', 'style-guide-18f')
const QUERY = 'How should headings and bulleted lists be written in plain language?'

const log = (message: string) => process.stderr.write(`[bench:generation] ${message}\n`)
const children: ChildProcess[] = []
const cleanup = () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM')
}
process.on('exit', cleanup)

// --- database --------------------------------------------------------------------------------------
const { db, url: dbUrl } = await createBenchDatabase(SERVER_URL, DB_NAME)

// 18F's content guide (public domain), read at run time and cut into paragraphs.
const paragraphs = readdirSync(join(CORPUS, '_pages'), { recursive: true })
  .map(String)
  .filter((file) => file.endsWith('.md'))
  .flatMap((file) =>
    readFileSync(join(CORPUS, '_pages', file), 'utf8')
      .split(/\n\s*\n/)
      .map((p) => p.trim())
      .filter((p) => p.length > 80 && !p.startsWith('---'))
      .map((text) => ({ file, text })),
  )
const byFile = new Map<string, string[]>()
for (const p of paragraphs) byFile.set(p.file, [...(byFile.get(p.file) ?? []), p.text])
await seedCollection(
  db.pool,
  { name: 'bench', dimensions: 64 },
  [...byFile.entries()].map(([file, texts]) => ({ sourceId: file, chunks: texts })),
)
const { key } = await createKey(db.pool, { name: 'bench', scopes: ['generate'] })
await putTask(db.pool, {
  models: benchModelRegistry(db.pool),
  name: 'bench',
  definition: TaskDefinition.parse({
    systemPrompt: 'You write product copy for {{brand}}.\n\n{{context}}',
    retrieval: { collection: 'bench', k: 5, budgetTokens: 1500 },
    route: { strategy: 'foundation', foundationModel: 'gpt-4o-mini' },
    maxTokens: 300,
  }),
})
await db.close()
log(`seeded ${paragraphs.length} chunks from ${byFile.size} files`)

// --- processes -------------------------------------------------------------------------------------
async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(url)).status < 500) return
    } catch {}
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`${url} never answered`)
}

function start(args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  children.push(child)
  return child
}

const stubPort = await freePort()
start(['test/support/openai-stub-cli.ts', '--port', String(stubPort), '--dimensions', '64'], {})
const stubUrl = `http://127.0.0.1:${stubPort}/v1`
const serverEnv = {
  DATABASE_URL: dbUrl,
  OPENAI_BASE_URL: stubUrl,
  OPENAI_API_KEY: 'bench',
  DB_POOL_SIZE: '10',
  LOG_LEVEL: 'info',
  BOOTSTRAP_ADMIN_KEY: 'false',
  RUN_WORKER: 'false',
  // Limits high enough for one key to drive hundreds of requests a second, but enforced: the limiter
  // claims blocks of the key's minute and charges tokens as in production (limits of 0 would skip it).
  RATE_LIMIT_RPM: '1000000',
  RATE_LIMIT_TPM: '1000000000',
}
const onbrandPort = await freePort()
const barePort = await freePort()
const profile = process.env.BENCH_CPU_PROF_DIR
const profileArgs = profile ? ['--cpu-prof', '--cpu-prof-dir', profile] : []
start([...profileArgs, 'bench/generation-server.ts'], {
  ...serverEnv,
  BENCH_MODE: 'onbrand',
  PORT: String(onbrandPort),
})
start([...profileArgs, 'bench/generation-server.ts'], {
  ...serverEnv,
  BENCH_MODE: 'bare',
  PORT: String(barePort),
})
await Promise.all([
  waitFor(`http://127.0.0.1:${onbrandPort}/healthz`),
  waitFor(`http://127.0.0.1:${barePort}/healthz`),
  waitFor(`${stubUrl}/models`),
])

interface Target {
  name: string
  url: string
  cpuUrl: string
  headers: Record<string, string>
  body: string
}
const targets: Target[] = [
  {
    name: 'onbrand',
    url: `http://127.0.0.1:${onbrandPort}/v1/generate`,
    cpuUrl: `http://127.0.0.1:${onbrandPort}/__cpu`,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ task: 'bench', input: QUERY, variables: { brand: 'Acme' } }),
  },
  {
    name: 'bare',
    url: `http://127.0.0.1:${barePort}/generate`,
    cpuUrl: `http://127.0.0.1:${barePort}/__cpu`,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ collection: 'bench', input: QUERY, brand: 'Acme' }),
  },
]

interface RunResult {
  requests: number
  errors: number
  rps: number
  p50: number
  p99: number
  /** Server CPU (user + system) per request, microseconds. */
  cpuUs: number
  /** PostgreSQL's CPU (all its processes) per request, microseconds; NaN where /proc is not readable. */
  pgCpuUs: number
}

// PostgreSQL's share of the work is the other half of each target's cost on this machine: read the CPU
// time of every process named postgres from /proc (Linux), in clock ticks.
const ticksPerSecond = existsSync('/proc/self/stat')
  ? Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
  : Number.NaN
/** CPU ticks of each PostgreSQL process now. Compared per process, so backends that start or end
 * between two readings (the pool opens and closes connections) do not distort the difference. */
function postgresTicks(): Map<string, number> {
  const ticks = new Map<string, number>()
  if (!Number.isFinite(ticksPerSecond)) return ticks
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'postgres') continue
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
      ticks.set(pid, Number(fields[11]) + Number(fields[12])) // utime, stime (fields 14 and 15 of stat)
    } catch {
      // the process ended between listing and reading
    }
  }
  return ticks
}

/** PostgreSQL CPU used between two readings, microseconds (NaN where /proc is not readable). */
function postgresCpuUsSince(before: Map<string, number>): number {
  if (!Number.isFinite(ticksPerSecond)) return Number.NaN
  let ticks = 0
  for (const [pid, now] of postgresTicks()) ticks += now - (before.get(pid) ?? 0)
  return (ticks / ticksPerSecond) * 1e6
}

async function serverCpu(target: Target): Promise<number> {
  const usage = (await (await fetch(target.cpuUrl)).json()) as { user: number; system: number }
  return usage.user + usage.system
}

/** Closed loop: `concurrency` clients, each sending its next request when the last one answered. */
async function run(target: Target, concurrency: number, durationMs: number): Promise<RunResult> {
  const latencies: number[] = []
  let errors = 0
  const cpuBefore = await serverCpu(target)
  const pgBefore = postgresTicks()
  const started = performance.now()
  const end = started + durationMs
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now()
        const res = await fetch(target.url, { method: 'POST', headers: target.headers, body: target.body })
        await res.arrayBuffer()
        if (res.status !== 200) errors += 1
        else latencies.push(performance.now() - t0)
      }
    }),
  )
  const seconds = (performance.now() - started) / 1000
  const cpuUs = (await serverCpu(target)) - cpuBefore
  const pgCpuUs = postgresCpuUsSince(pgBefore)
  return {
    cpuUs: cpuUs / Math.max(1, latencies.length + errors),
    pgCpuUs: pgCpuUs / Math.max(1, latencies.length + errors),
    requests: latencies.length,
    errors,
    rps: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  }
}

const median = (values: number[]) => percentile(values, 50)
const rows: string[] = []
const summary: Record<string, { rpsRatio: number; addedP50: number }> = {}
for (const concurrency of CONCURRENCY) {
  for (const target of targets) await run(target, concurrency, WARMUP_MS)
  const results: Record<string, RunResult[]> = { onbrand: [], bare: [] }
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which goes first so neither always gets the warmer machine.
    const order = round % 2 === 0 ? targets : [...targets].reverse()
    for (const target of order) {
      const result = await run(target, concurrency, ROUND_MS)
      if (result.errors > 0) throw new Error(`${target.name}: ${result.errors} failed requests`)
      results[target.name]!.push(result)
      log(
        `c=${concurrency} ${target.name} round ${round + 1}: ${result.rps.toFixed(0)} req/s, ` +
          `p50 ${result.p50.toFixed(2)} ms, CPU ${result.cpuUs.toFixed(0)} µs/req, ` +
          `PostgreSQL CPU ${result.pgCpuUs.toFixed(0)} µs/req`,
      )
    }
  }
  const stats = (name: string) => ({
    rps: median(results[name]!.map((r) => r.rps)),
    p50: median(results[name]!.map((r) => r.p50)),
    p99: median(results[name]!.map((r) => r.p99)),
    cpuUs: median(results[name]!.map((r) => r.cpuUs)),
    pgCpuUs: median(results[name]!.map((r) => r.pgCpuUs)),
  })
  const onbrand = stats('onbrand')
  const bare = stats('bare')
  summary[concurrency] = { rpsRatio: onbrand.rps / bare.rps, addedP50: onbrand.p50 - bare.p50 }
  rows.push(
    `| ${concurrency} | ${bare.rps.toFixed(0)} | ${onbrand.rps.toFixed(0)} | ${((onbrand.rps / bare.rps) * 100).toFixed(0)}% | ` +
      `${bare.p50.toFixed(2)} | ${onbrand.p50.toFixed(2)} | ${(onbrand.p50 - bare.p50).toFixed(2)} | ` +
      `${bare.p99.toFixed(2)} | ${onbrand.p99.toFixed(2)} | ${bare.cpuUs.toFixed(0)} | ${onbrand.cpuUs.toFixed(0)} | ` +
      `${bare.pgCpuUs.toFixed(0)} | ${onbrand.pgCpuUs.toFixed(0)} |`,
  )
}
cleanup()

const verdict = (ok: boolean) => (ok ? 'met' : '**missed**')
const worstRatio = Math.min(...Object.values(summary).map((s) => s.rpsRatio))
const addedAtOne = summary[1]!.addedP50
const section = `## Generation

Onbrand's overhead on \`POST /v1/generate\` (non-streaming, text task, k = 5, ${paragraphs.length} chunks of
18F's content guide with 64-dimension embeddings): everything but model time, because the model is the
OpenAI-wire stub answering at once. The baseline is a bare Hono handler in the same run
(\`bench/generation-server.ts\`, mode \`bare\`) that makes the same \`retrieve()\` call (same SQL, same
query-embedding cache, so both embed the fixed query once) and the same ChatOpenAI call, with no auth,
task lookup, validation, rate limiting, prompt packing, routing, citations, cost or generation log.
In steady state Onbrand adds no database statement per request: the API key row is cached
(AUTH_CACHE_TTL_MS), the rate limiter admits from a block of the key's minute claimed ahead (the bench
key's limits, 1,000,000 requests and 1,000,000,000 tokens a minute, are enforced: one claim per 50,000
requests, a refresh per second, token charges sent every 250 ms), the active task version is cached
(TASK_CACHE_TTL_MS), and generations rows are written in batches, one statement per 50 ms
(GENERATION_LOG_FLUSH_MS). It does write a larger access log line. CPU per request is each server process's own user + system
time (\`process.cpuUsage\`) divided by the requests it served; PG CPU is the CPU time of all PostgreSQL
processes during the round (from /proc) divided by the same count, which both targets pay for.
Each server runs in its own process; both use PostgreSQL on 127.0.0.1 with a pool of 10. Closed-loop
clients with keep-alive; ${ROUNDS} alternating rounds of ${ROUND_MS / 1000} s per target after a
${WARMUP_MS / 1000} s warm-up; medians of the rounds. Machine: 2 shared cores running the load generator,
the stub, both servers and PostgreSQL at once, so absolute numbers are low and noisy; the ratios are the point.

Command: \`npm run bench:generation\`

| clients | bare req/s | Onbrand req/s | Onbrand / bare | bare p50 ms | Onbrand p50 ms | added p50 ms | bare p99 ms | Onbrand p99 ms | bare CPU µs/req | Onbrand CPU µs/req | bare PG CPU µs/req | Onbrand PG CPU µs/req |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

Targets: throughput at least 80% of the bare handler's (${verdict(worstRatio >= 0.8)}: worst ${(worstRatio * 100).toFixed(0)}%);
added p50 latency at most 5 ms with one client (${verdict(addedAtOne <= 5)}: ${addedAtOne.toFixed(2)} ms). With 50 closed-loop
clients on a saturated machine, p50 is queueing time (about clients / throughput), so the added p50 there
follows from the throughput ratio rather than measuring per-request work.

Where the difference went (from CPU profiles and per-process CPU readings under this benchmark, not
re-measured by each run): before this design Onbrand reached 59–65% of the bare handler. Its four
statements per request (the key lookup and rate-limit counter in one, the collection lookup and search
that both targets make, and the generations row with the token charge) made PostgreSQL spend about
3.9 ms per request against the bare handler's 2.1 ms: the per-request upsert on one hot rate-limit row
alone cost about 1 ms. Caching key rows, claiming rate-limit blocks and batching the generations rows
brought PostgreSQL's share to within about 10% of the bare handler's (the batched generations rows are most of what is left). Two more costs were in Onbrand's HTTP layer: setting the
RateLimit headers after the handler made @hono/node-server turn its lightweight Response into a full
one, and the UTF-8 check left bytes in Hono's body cache that \`c.req.json()\` re-decoded through a new
Response; both now happen once. What remains is Onbrand's own work (validation, task cache, prompt
assembly, routing, citations, cost, metrics, the access log line), roughly 0.3–0.6 ms of server CPU per
request here. On this shared 2-core machine rounds vary by ±20% from one to the next, so single rounds
can land on either side of the target.
`
writeSection('BENCHMARKS.md', '## Generation', section)
log('wrote the Generation section of BENCHMARKS.md')
process.exit(0)
