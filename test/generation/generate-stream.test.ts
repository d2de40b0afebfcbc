import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { json } from '../support/test-app.js'
import {
  createGenerationFixture,
  FINE_TUNED,
  FOUNDATION,
  type GenerationFixture,
  parseSSE,
  textTask,
} from './generation-fixture.js'

let f: GenerationFixture
const request = { task: 'copy-ft', input: 'Trailblazer tent', variables: { brand: 'Acme' }, stream: true }

async function streamEvents(body: Record<string, unknown>) {
  const res = await f.generate(body)
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toContain('text/event-stream')
  return parseSSE(await res.text())
}

beforeAll(async () => {
  f = await createGenerationFixture()
  await f.putTask(
    'copy-ft',
    textTask({ route: { strategy: 'fine_tuned', foundationModel: FOUNDATION, fineTunedModel: FINE_TUNED } }),
  )
})
afterAll(async () => f?.close())
beforeEach(() => {
  f.stub.reset()
  f.stub.setOptions({ tokenDelayMs: 0 })
})

describe('streaming /v1/generate', () => {
  it('sends meta, the deltas, then done with citations and usage', async () => {
    f.stub.setReply(FINE_TUNED, 'A light tent for two [1] with a waterproof fly.')
    const events = await streamEvents(request)
    const names = events.map((e) => e.event)
    expect(names[0]).toBe('meta')
    expect(names.at(-1)).toBe('done')
    expect(names.slice(1, -1).every((n) => n === 'delta')).toBe(true)
    expect(names.length).toBeGreaterThan(4)
    const text = events
      .filter((e) => e.event === 'delta')
      .map((e) => JSON.parse(e.data).text)
      .join('')
    expect(text).toBe('A light tent for two [1] with a waterproof fly.')
    const meta = JSON.parse(events[0]!.data)
    expect(meta.route).toMatchObject({ model: FINE_TUNED, fellBack: false })
    const done = JSON.parse(events.at(-1)!.data)
    expect(done.id).toBe(meta.id)
    expect(done.citations.find((c: { n: number }) => c.n === 1).cited).toBe(true)
    expect(done.usage.promptTokens).toBeGreaterThan(0)
    expect(done.usage.costUsd).toBeGreaterThan(0)
    // LangChain asks for usage in the stream; the stub's numbers arrive intact.
    expect(f.chatBodies()[0]!.stream_options).toEqual({ include_usage: true })
    const row = (await f.generationRows()).find((r) => r.id === meta.id)!
    expect(row).toMatchObject({ status: 'succeeded', output: text, prompt_tokens: done.usage.promptTokens })
    expect(f.t.logs.some((l) => l.msg === 'generation' && l.generationId === meta.id)).toBe(true)
  })

  it('falls back to the foundation model when the fine-tuned one fails before the first token', async () => {
    f.stub.failNext({ path: 'chat', status: 503 })
    const events = await streamEvents(request)
    expect(events.map((e) => e.event).at(-1)).toBe('done')
    const meta = JSON.parse(events[0]!.data)
    expect(meta.route).toMatchObject({ model: FOUNDATION, fellBack: true })
    expect(meta.route.reason).toContain('HTTP 503')
    expect(f.chatBodies().map((b) => b.model)).toEqual([FINE_TUNED, FOUNDATION])
  })

  it('ends with an error event when the model fails after the first token, and logs it', async () => {
    f.stub.setReply(FINE_TUNED, 'one two three four five six')
    f.stub.breakStreamAfter({ chunks: 2 })
    const events = await streamEvents(request)
    expect(events.map((e) => e.event)).toEqual(['meta', 'delta', 'delta', 'error'])
    const error = JSON.parse(events.at(-1)!.data)
    expect(error).toMatchObject({ code: 'upstream_error' })
    expect(error.requestId).toBeTruthy()
    expect(f.chatBodies()).toHaveLength(1)
    const row = (await f.generationRows()).find((r) => r.id === error.id)!
    expect(row).toMatchObject({ status: 'failed', output: 'one two', model: FINE_TUNED })
    expect(row.error).toContain('connection failed')
  })

  it('answers errors found before the stream as problem+json', async () => {
    const res = await f.generate({ ...request, task: 'missing' })
    expect(res.status).toBe(404)
    expect(res.headers.get('content-type')).toContain('application/problem+json')
  })

  it('aborts the upstream call when the client disconnects', async () => {
    const base = await f.listen()
    f.stub.setOptions({ tokenDelayMs: 40 })
    f.stub.setReply(FINE_TUNED, Array.from({ length: 200 }, (_, i) => `word${i}`).join(' '))
    const controller = new AbortController()
    const res = await fetch(`${base}/v1/generate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${f.t.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(request),
      signal: controller.signal,
    })
    const reader = res.body!.getReader()
    let seen = ''
    while (!seen.includes('event: delta')) seen += new TextDecoder().decode((await reader.read()).value)
    expect(f.stub.activeRequests()).toBe(1)
    controller.abort()
    await expect.poll(() => f.stub.abortedRequests(), { timeout: 3000 }).toBe(1)
    expect(f.stub.activeRequests()).toBe(0)
    await expect
      .poll(async () => (await f.generationRows()).filter((r) => r.status === 'failed').at(-1)?.error, {
        timeout: 3000,
      })
      .toBe('client disconnected')
  })
})

describe('non-streaming disconnect', () => {
  it('aborts the upstream call when the client goes away mid-request', async () => {
    const base = await f.listen()
    f.stub.setOptions({ latencyMs: 5000 })
    const controller = new AbortController()
    const pending = fetch(`${base}/v1/generate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${f.t.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...request, stream: false }),
      signal: controller.signal,
    }).catch((error: unknown) => error)
    await expect.poll(() => f.stub.activeRequests(), { timeout: 3000 }).toBe(1)
    controller.abort()
    await pending
    await expect.poll(() => f.stub.abortedRequests(), { timeout: 3000 }).toBe(1)
    f.stub.setOptions({ latencyMs: 0 })
    expect(await json(await f.generate({ ...request, stream: false }))).toHaveProperty('output')
  })
})
