/**
 * What a failing fine-tuned model costs each request, with and without the circuit breaker.
 *
 * One in-process app per setting over the embedded database, the OpenAI-wire stub as provider with the
 * fine-tuned model answering 503 to everything, LangChain's retries at the default (MODEL_MAX_RETRIES=2,
 * with its backoff). Each round sends one request to a foundation-only task (the baseline: the same
 * retrieval, prompt and foundation call) and one to a fine_tuned task that falls back to that foundation
 * model; the added time is the fallback request's latency minus the baseline's, per round, then the
 * median. Writes the "## Fallback past a failing model" section of BENCHMARKS.md.
 *
 *   npm run bench:breaker
 */
import { loadavg } from 'node:os'
import { performance } from 'node:perf_hooks'
import {
  createGenerationFixture,
  FINE_TUNED,
  FOUNDATION,
  textTask,
} from '../test/generation/generation-fixture.js'
import { percentile } from './retrieval-data.js'
import { writeSection } from './support/benchmarks-file.js'

const ROUNDS_WITH = Number(process.env.BENCH_ROUNDS ?? 40)
const ROUNDS_WITHOUT = Number(process.env.BENCH_ROUNDS_WITHOUT ?? 8)

interface Measured {
  setting: string
  rounds: number
  baselineP50: number
  fallbackP50: number
  addedP50: number
  addedMax: number
  fineTunedCalls: number
}

async function measure(setting: string, breakerFailures: string, rounds: number): Promise<Measured> {
  const f = await createGenerationFixture({
    MODEL_MAX_RETRIES: '2',
    MODEL_TIMEOUT_MS: '60000',
    MODEL_BREAKER_FAILURES: breakerFailures,
    MODEL_BREAKER_COOLDOWN_MS: '600000',
    LOG_LEVEL: 'warn',
  })
  try {
    const split = { strategy: 'fine_tuned', foundationModel: FOUNDATION, fineTunedModel: FINE_TUNED }
    for (const [name, route] of [
      ['baseline', { strategy: 'foundation', foundationModel: FOUNDATION }],
      ['fallback', split],
    ] as const) {
      const res = await f.putTask(name, textTask({ route }))
      if (res.status !== 201) throw new Error(`task ${name}: ${res.status}`)
    }
    f.stub.setModelDown(FINE_TUNED, 503)
    const time = async (task: string) => {
      const started = performance.now()
      const res = await f.generate({ task, input: 'Trailblazer tent', variables: { brand: 'Acme' } })
      const body = (await res.json()) as { route?: { model?: string } }
      const ms = performance.now() - started
      if (res.status !== 200 || body.route?.model !== FOUNDATION) throw new Error(`${task}: ${res.status}`)
      return ms
    }
    // Warm-up: caches, JIT, and (with the breaker) the failures that open it.
    for (let i = 0; i < 4; i++) {
      await time('baseline')
      await time('fallback')
    }
    const before = f.chatBodies().filter((b) => b.model === FINE_TUNED).length
    const baseline: number[] = []
    const fallback: number[] = []
    const added: number[] = []
    for (let i = 0; i < rounds; i++) {
      const order = i % 2 === 0 ? ['baseline', 'fallback'] : ['fallback', 'baseline']
      const times: Record<string, number> = {}
      for (const task of order) times[task] = await time(task)
      baseline.push(times.baseline!)
      fallback.push(times.fallback!)
      added.push(times.fallback! - times.baseline!)
    }
    const fineTunedCalls = f.chatBodies().filter((b) => b.model === FINE_TUNED).length - before
    return {
      setting,
      rounds,
      baselineP50: percentile(baseline, 50),
      fallbackP50: percentile(fallback, 50),
      addedP50: percentile(added, 50),
      addedMax: Math.max(...added),
      fineTunedCalls,
    }
  } finally {
    await f.close()
  }
}

const loadBefore = loadavg()[0]!
const results = [
  await measure('breaker off (MODEL_BREAKER_FAILURES=0)', '0', ROUNDS_WITHOUT),
  await measure('breaker on (default: open after 3 failures)', '3', ROUNDS_WITH),
]
const ms = (n: number) => n.toFixed(1)
const loadAfter = loadavg()[0]!
const rows = results.map(
  (r) =>
    `| ${r.setting} | ${r.rounds} | ${ms(r.baselineP50)} | ${ms(r.fallbackP50)} | **${ms(r.addedP50)}** | ${ms(r.addedMax)} | ${r.fineTunedCalls} |`,
)
const [off, on] = results as [Measured, Measured]
const body = `Command: \`npm run bench:breaker\` (${new Date().toISOString().slice(0, 10)}; embedded database, in-process app
and OpenAI-wire stub; 2-core shared machine). The fine-tuned model answers 503 to every call; LangChain retries
twice with its backoff (MODEL_MAX_RETRIES=2, the default). Per round, one request to a foundation-only task (the
baseline) and one to a \`fine_tuned\` task that falls back to the same foundation model, in alternating order;
"added" is the fallback request's latency minus the baseline's in the same round. The first 4 rounds of each
setting are warm-up (with the breaker on, they include the 3 failures that open it).

| Setting | rounds | baseline p50 ms | fallback p50 ms | added p50 ms | added max ms | calls to the failing model |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
${rows.join('\n')}

- Added time once the breaker is open: **${ms(on.addedP50)} ms** median (target < 50 ms: **${on.addedP50 < 50 ? 'met' : 'not met'}**;
  a value near or below zero means no difference from the baseline beyond this machine's noise: 1-minute load
  average ${loadBefore.toFixed(1)} at the start and ${loadAfter.toFixed(1)} at the end, on 2 cores);
  without the breaker every request waits for the failing model and its retries: ${ms(off.addedP50)} ms median.
- While open, the failing model gets ${on.fineTunedCalls} calls in ${on.rounds} rounds (the cool-down here is 10 minutes, longer than the run).
`
writeSection('BENCHMARKS.md', '## Fallback past a failing model', body)
console.log(body)
