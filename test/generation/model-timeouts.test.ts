import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { OpenAIChatModel } from '../../src/generation/openai-chat-model.js'
import { json } from '../support/test-app.js'
import {
  createGenerationFixture,
  FOUNDATION,
  type GenerationFixture,
  parseSSE,
  textTask,
} from './generation-fixture.js'

const TIMEOUT_MS = 800
const STREAM_TIMEOUT_MS = 2000

let f: GenerationFixture
beforeAll(async () => {
  f = await createGenerationFixture({
    MODEL_TIMEOUT_MS: String(TIMEOUT_MS),
    MODEL_STREAM_TIMEOUT_MS: String(STREAM_TIMEOUT_MS),
  })
  await f.putTask('copy', textTask())
})
afterAll(async () => f?.close())
beforeEach(() => {
  f.stub.reset()
  f.stub.setOptions({ tokenDelayMs: 0 })
})

const request = { task: 'copy', input: 'Trailblazer tent', variables: { brand: 'Acme' } }

describe('model call deadlines', () => {
  it('ends a non-streaming reply dripped byte by byte at MODEL_TIMEOUT_MS, not when the body ends', async () => {
    // Headers at once, then one byte every 100 ms: the SDK's own timeout (headers only) never fires.
    f.stub.misbehaveNext({ kind: 'drip', intervalMs: 100 })
    const started = performance.now()
    const res = await f.generate(request)
    const elapsed = performance.now() - started
    expect(res.status).toBe(504)
    expect((await json(res)).code).toBe('upstream_timeout')
    // The whole body would take 30 s or more; the deadline ends it.
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 50)
    expect(elapsed).toBeLessThan(TIMEOUT_MS * 5)
    await expect.poll(() => f.stub.activeRequests(), { timeout: 3000 }).toBe(0)
  })

  it('ends a stream whose chunks keep coming at MODEL_STREAM_TIMEOUT_MS, with an error event', async () => {
    // A chunk every 100 ms never trips the idle deadline, but the reply would take 30 s.
    f.stub.setOptions({ tokenDelayMs: 100 })
    f.stub.setReply(FOUNDATION, Array.from({ length: 300 }, (_, i) => `word${i}`).join(' '))
    const started = performance.now()
    const res = await f.generate({ ...request, stream: true })
    const events = parseSSE(await res.text())
    const elapsed = performance.now() - started
    expect(events.map((e) => e.event).slice(0, 2)).toEqual(['meta', 'delta'])
    expect(events.at(-1)!.event).toBe('error')
    expect(JSON.parse(events.at(-1)!.data).code).toBe('upstream_timeout')
    expect(elapsed).toBeGreaterThanOrEqual(STREAM_TIMEOUT_MS - 50)
    expect(elapsed).toBeLessThan(STREAM_TIMEOUT_MS * 4)
    const row = (await f.generationRows()).at(-1)!
    expect(row).toMatchObject({ status: 'failed' })
    expect(row.error).toContain('timeout')
  })

  it('ends a stream that stalls between chunks after MODEL_TIMEOUT_MS', async () => {
    f.stub.misbehaveNext({ kind: 'drip', stream: true, afterChunks: 2, intervalMs: 100 })
    const started = performance.now()
    const events = parseSSE(await (await f.generate({ ...request, stream: true })).text())
    expect(events.at(-1)!.event).toBe('error')
    expect(JSON.parse(events.at(-1)!.data).code).toBe('upstream_timeout')
    expect(performance.now() - started).toBeLessThan(STREAM_TIMEOUT_MS)
  })
})

describe('chat model clients', () => {
  it('keeps a bounded number of clients however many sampling settings callers choose', async () => {
    const model = new OpenAIChatModel(
      { id: FOUNDATION, baseURL: f.stub.url, apiKey: 'test', contextWindow: 128_000 },
      { timeoutMs: 5000, streamTimeoutMs: 5000, maxRetries: 0, clientsPerModel: 8 },
    )
    for (let maxTokens = 1; maxTokens <= 40; maxTokens++) {
      await model.complete([{ role: 'user', content: 'hi' }], { maxTokens, temperature: maxTokens / 40 })
      expect(model.cachedClients).toBeLessThanOrEqual(8)
    }
    // Each call still carried its own settings.
    const sent = f.chatBodies().map((body) => body.max_tokens)
    expect(sent).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
    // A setting in use stays cached: the same one again builds no new client.
    await model.complete([{ role: 'user', content: 'hi' }], { maxTokens: 40, temperature: 1 })
    expect(model.cachedClients).toBe(8)
  })
})
