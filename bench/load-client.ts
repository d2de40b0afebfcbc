/**
 * Closed-loop HTTP load for bench/load.ts, run in a process of its own so the generator's CPU is not
 * the coordinator's: `clients` keep-alive connections, each sending its next request as soon as the
 * last one answered, for `durationMs`. Requests still in flight at the end are awaited (bounded by the
 * per-request timeout), then one JSON summary is printed on stdout.
 *
 *   tsx bench/load-client.ts '<LoadSpec as JSON>'
 */
import { Agent, request } from 'node:http'
import { performance } from 'node:perf_hooks'

export interface LoadSpec {
  url: string
  headers: Record<string, string>
  body: string
  clients: number
  durationMs: number
  timeoutMs: number
}

export interface LoadSummary {
  clients: number
  seconds: number
  requests: number
  ok: number
  /** Responses by HTTP status. */
  statuses: Record<string, number>
  /** Requests that got no response, by error code (ECONNRESET, timeout, …). */
  socketErrors: Record<string, number>
  /** Latency of 2xx responses, milliseconds. */
  latency: { mean: number; p50: number; p90: number; p99: number; max: number }
  /** Completed requests per whole second of the run, to see whether throughput held. */
  perSecond: number[]
}

type Outcome = { status: number } | { error: string }

function send(agent: Agent, spec: LoadSpec): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = request(
      spec.url,
      {
        agent,
        method: 'POST',
        headers: { ...spec.headers, 'content-length': Buffer.byteLength(spec.body) },
        timeout: spec.timeoutMs,
      },
      (res) => {
        res.on('data', () => {})
        res.on('end', () => resolve({ status: res.statusCode ?? 0 }))
        res.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }))
      },
    )
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })))
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }))
    req.end(spec.body)
  })
}

function pick(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

async function runLoad(spec: LoadSpec): Promise<LoadSummary> {
  const agent = new Agent({ keepAlive: true, maxSockets: spec.clients })
  const latencies: number[] = []
  const statuses: Record<string, number> = {}
  const socketErrors: Record<string, number> = {}
  const perSecond: number[] = []
  const started = performance.now()
  const end = started + spec.durationMs
  await Promise.all(
    Array.from({ length: spec.clients }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now()
        const outcome = await send(agent, spec)
        const t1 = performance.now()
        const second = Math.floor((t1 - started) / 1000)
        perSecond[second] = (perSecond[second] ?? 0) + 1
        if ('error' in outcome) {
          socketErrors[outcome.error] = (socketErrors[outcome.error] ?? 0) + 1
          continue
        }
        statuses[outcome.status] = (statuses[outcome.status] ?? 0) + 1
        if (outcome.status >= 200 && outcome.status < 300) latencies.push(t1 - t0)
      }
    }),
  )
  const seconds = (performance.now() - started) / 1000
  agent.destroy()
  const sorted = Float64Array.from(latencies).sort()
  const errors = Object.values(socketErrors).reduce((a, b) => a + b, 0)
  return {
    clients: spec.clients,
    seconds,
    requests: Object.values(statuses).reduce((a, b) => a + b, 0) + errors,
    ok: latencies.length,
    statuses,
    socketErrors,
    latency: {
      mean: latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length),
      p50: pick(sorted, 50),
      p90: pick(sorted, 90),
      p99: pick(sorted, 99),
      max: pick(sorted, 100),
    },
    // The last, partial second (in-flight requests finishing after the deadline) is left out.
    perSecond: Array.from({ length: Math.floor(spec.durationMs / 1000) }, (_, i) => perSecond[i] ?? 0),
  }
}

if (process.argv[1]?.endsWith('load-client.ts')) {
  const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec
  const summary = await runLoad(spec)
  process.stdout.write(`${JSON.stringify(summary)}\n`)
  process.exit(0)
}
