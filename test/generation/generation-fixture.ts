import type { AddressInfo } from 'node:net'
import { type ServerType, serve } from '@hono/node-server'
import { startWorker } from '../../ingest/jobs/worker.js'
import type { ServiceOverrides } from '../../src/services.js'
import { type OpenAIStub, startOpenAIStub } from '../support/openai-stub.js'
import { seedCollection } from '../support/seed-chunks.js'
import { createTestApp, type TestApp } from '../support/test-app.js'

export const FOUNDATION = 'gpt-4o-mini'
export const FINE_TUNED = 'ft:gpt-4o-mini:onbrand:copy:abc123'

export interface GenerationFixture {
  t: TestApp
  stub: OpenAIStub
  chunkIds: Map<string, number[]>
  putTask(name: string, definition: Record<string, unknown>): Promise<Response>
  generate(body: Record<string, unknown>, key?: string): Promise<Response>
  /** Bodies of the chat requests the stub received, in order (embedding calls left out). */
  chatBodies(): Record<string, unknown>[]
  generationRows(): Promise<Record<string, unknown>[]>
  /** Serve the app on 127.0.0.1 (for SDK clients and disconnect tests); returns its base URL. */
  listen(): Promise<string>
  /** A worker with the app's job handlers (as the API process runs one), working on one job only. */
  workOn(jobId: string, options?: { leaseMs?: number }): ReturnType<typeof startWorker>
  close(): Promise<void>
}

/** Prices per 1M tokens the tests compute cost from. */
export const PRICES = { [FOUNDATION]: [0.15, 0.6], [FINE_TUNED]: [0.3, 1.2] } as const

/**
 * An app wired to the OpenAI-wire stub, with a small guideline collection ("brand") seeded by SQL.
 * Retries and the circuit breaker are off unless a test asks, so each fault maps to one observable call.
 */
export async function createGenerationFixture(
  env: Record<string, string> = {},
  overrides: ServiceOverrides = {},
): Promise<GenerationFixture> {
  const stub = await startOpenAIStub()
  const models = {
    models: Object.fromEntries(
      Object.entries(PRICES).map(([id, [input, output]]) => [
        id,
        { inputPricePer1M: input, outputPricePer1M: output },
      ]),
    ),
  }
  const t = await createTestApp(
    {
      OPENAI_BASE_URL: stub.url,
      OPENAI_API_KEY: 'test-key',
      MODEL_MAX_RETRIES: '0',
      MODEL_TIMEOUT_MS: '800',
      // The circuit breaker would turn a run of injected faults into skipped calls: off unless a test asks.
      MODEL_BREAKER_FAILURES: '0',
      MODELS_JSON: JSON.stringify(models),
      ...env,
    },
    overrides,
  )
  let server: ServerType | undefined
  const { chunkIds } = await seedCollection(t.db.pool, { name: 'brand', dimensions: 64 }, [
    {
      sourceId: 'voice.md',
      title: 'Voice and tone',
      chunks: [
        {
          text: 'Write in plain English. Use short sentences and active voice.',
          headingPath: 'Voice > Plain English',
        },
      ],
    },
    {
      sourceId: 'products/tent.json',
      kind: 'product',
      title: 'Trailblazer tent',
      chunks: [
        { text: 'Trailblazer tent: waterproof, sleeps two, weighs 1.8 kg. Plain English product copy.' },
      ],
    },
    {
      sourceId: 'legal.md',
      title: 'Legal',
      chunks: [
        {
          text: 'Prices include GST. Plain English disclaimers go at the end.',
          headingPath: 'Legal > Pricing',
        },
      ],
    },
  ])
  return {
    t,
    stub,
    chunkIds,
    putTask: (name, definition) =>
      t.request(`/v1/tasks/${name}`, { method: 'PUT', key: t.adminKey, json: definition }),
    workOn: (jobId, options = {}) =>
      startWorker({
        deps: t.services.ingest,
        handlers: t.services.jobHandlers,
        pollIntervalMs: 10,
        onlyJobId: jobId,
        ...(options.leaseMs ? { leaseMs: options.leaseMs } : {}),
      }),
    generate: (body, key) =>
      t.request('/v1/generate', { method: 'POST', key: key ?? t.adminKey, json: body }),
    chatBodies: () =>
      stub.calls.filter((call) => call.path === '/v1/chat/completions').map((call) => call.body),
    generationRows: async () => {
      await t.flush()
      return (
        await t.db.pool.query(
          `SELECT g.*, v.version AS task_version FROM generations g
           LEFT JOIN task_versions v ON v.id = g.task_version_id ORDER BY g.created_at, g.id`,
        )
      ).rows
    },
    listen: async () => {
      if (!server) {
        server = await new Promise<ServerType>((resolve) => {
          const s = serve({ fetch: t.app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s))
        })
      }
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    },
    close: async () => {
      if (server) {
        const running = server
        const closed = new Promise<void>((resolve) => running.close(() => resolve()))
        if ('closeAllConnections' in running) running.closeAllConnections()
        await closed
      }
      await t.close()
      await stub.close()
    },
  }
}

export function textTask(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    description: 'Product copy',
    systemPrompt: 'You write product copy for {{brand}}.\n\n{{context}}',
    retrieval: { collection: 'brand', k: 5 },
    route: { strategy: 'foundation', foundationModel: FOUNDATION },
    ...overrides,
  }
}

/** Parse an SSE body into events, in order. */
export function parseSSE(text: string): { event: string; data: string }[] {
  const events: { event: string; data: string }[] = []
  for (const block of text.split('\n\n')) {
    if (block.trim() === '') continue
    let event = 'message'
    const data: string[] = []
    for (const line of block.split('\n')) {
      if (line.startsWith('event:')) event = line.slice(6).trim()
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''))
    }
    events.push({ event, data: data.join('\n') })
  }
  return events
}
