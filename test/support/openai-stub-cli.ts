/**
 * Run the OpenAI-compatible stub on a fixed port for manual runs and benchmarks:
 *
 *   tsx test/support/openai-stub-cli.ts --port 8787 [--latency-ms N] [--token-delay-ms N] [--dimensions N]
 *
 * Prints the base URL (…/v1) on stdout; stops on SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util'
import { startOpenAIStub } from './openai-stub.js'

function intArg(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`--${name} must be a non-negative integer, got ${JSON.stringify(value)}\n`)
    process.exit(2)
  }
  return n
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8787' },
      'latency-ms': { type: 'string' },
      'token-delay-ms': { type: 'string' },
      dimensions: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  })
  if (values.help === true) {
    process.stdout.write(
      'Usage: tsx test/support/openai-stub-cli.ts [--port 8787] [--latency-ms N] [--token-delay-ms N] [--dimensions N]\n',
    )
    return
  }
  const port = intArg('port', values.port, 8787)
  const stub = await startOpenAIStub({
    port,
    latencyMs: intArg('latency-ms', values['latency-ms'], 0),
    tokenDelayMs: intArg('token-delay-ms', values['token-delay-ms'], 0),
    embeddingDimensions: intArg('dimensions', values.dimensions, 64),
    recordCalls: false,
  })
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
