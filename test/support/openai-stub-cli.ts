/**
 * Run the OpenAI-compatible stub on its own, for manual runs, README walkthroughs and benchmarks:
 *
 *   tsx test/support/openai-stub-cli.ts --port 8787 [--latency-ms N] [--token-delay-ms N] [--dimensions N]
 *     [--echo-replies] [--fine-tune-step-ms N] [--min-training-examples N] [--scenario ./my-scenario.ts]
 *
 * Unlike the in-process default, replies are distinct per model and request (`distinctReplies`);
 * `--echo-replies` brings back the echo. `--fine-tune-step-ms N` moves fine-tuning jobs one status every
 * N ms instead of one per GET of the job. `--scenario` imports a module that exports
 * `configure(stub: OpenAIStub)` (sync or async) and calls it before listening, e.g. to install a judge:
 *
 *   export function configure(stub) {
 *     stub.setJudge('gpt-4o', ({ user }) => ({ score: user.includes('[1]') ? 5 : 2 }))
 *   }
 *
 * Prints the base URL (…/v1) on stdout; stops on SIGINT/SIGTERM.
 */
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { type OpenAIStub, startOpenAIStub } from './openai-stub.js'

const USAGE =
  'Usage: tsx test/support/openai-stub-cli.ts [--port 8787] [--latency-ms N] [--token-delay-ms N] [--dimensions N]\n' +
  '         [--echo-replies] [--fine-tune-step-ms N] [--min-training-examples N] [--scenario <module>]\n'

function fail(message: string): never {
  process.stderr.write(`${message}\n`)
  process.exit(2)
}

function intArg(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0)
    fail(`--${name} must be a non-negative integer, got ${JSON.stringify(value)}`)
  return n
}

async function loadScenario(path: string): Promise<(stub: OpenAIStub) => unknown> {
  const module = (await import(pathToFileURL(resolve(path)).href)) as { configure?: unknown }
  if (typeof module.configure !== 'function') {
    fail(`--scenario ${path} must export a function configure(stub)`)
  }
  return module.configure as (stub: OpenAIStub) => unknown
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8787' },
      'latency-ms': { type: 'string' },
      'token-delay-ms': { type: 'string' },
      dimensions: { type: 'string' },
      'echo-replies': { type: 'boolean', default: false },
      'fine-tune-step-ms': { type: 'string' },
      'min-training-examples': { type: 'string' },
      scenario: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  })
  if (values.help === true) {
    process.stdout.write(USAGE)
    return
  }
  const port = intArg('port', values.port, 8787)
  const stepMs = intArg('fine-tune-step-ms', values['fine-tune-step-ms'], 0)
  // Load the scenario first: a broken one should stop the CLI before it claims the port.
  const configure = values.scenario === undefined ? undefined : await loadScenario(values.scenario)
  const stub = await startOpenAIStub({
    port,
    latencyMs: intArg('latency-ms', values['latency-ms'], 0),
    tokenDelayMs: intArg('token-delay-ms', values['token-delay-ms'], 0),
    embeddingDimensions: intArg('dimensions', values.dimensions, 64),
    distinctReplies: !values['echo-replies'],
    minTrainingExamples: intArg('min-training-examples', values['min-training-examples'], 10),
    ...(stepMs > 0 ? { fineTuneProgress: 'timed' as const, fineTuneStepMs: stepMs } : {}),
    recordCalls: false,
  })
  await configure?.(stub)
  process.stdout.write(`OpenAI stub listening on ${stub.url}\n`)

  let stopping = false
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return
    stopping = true
    process.stderr.write(
      `Received ${signal}, stopping after ${stub.chatCalls()} chat and ${stub.embeddingCalls()} embeddings request(s)\n`,
    )
    stub.close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exit(1)
})
