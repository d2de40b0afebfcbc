import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MisbehaviourKind } from '../support/openai-stub.js'
import { json } from '../support/test-app.js'
import {
  createGenerationFixture,
  FINE_TUNED,
  FOUNDATION,
  type GenerationFixture,
  parseSSE,
  textTask,
} from './generation-fixture.js'

/*
 * Every hostile reply the stub can send, through both endpoints, streamed and not, on a route without
 * and with a fallback: the client always gets a clear answer (200 with sane values, or 502/504, or an
 * SSE `error`), a stream always ends with `done` or `error`, and each answered request leaves exactly one
 * generations row with values that make sense.
 */

type Kind = MisbehaviourKind

/** Replies that still carry a usable completion: only their usage or text is odd. */
const USABLE: Kind[] = [
  'nul-in-content',
  'usage-huge',
  'usage-negative',
  'usage-non-numeric',
  'usage-missing',
]
/** Replies that are no completion. `textFirst`: streamed, they send some text before they fail. */
const UNUSABLE: Partial<Record<Kind, { timeout?: true; textFirst?: true }>> = {
  'invalid-json': { textFirst: true },
  html: {},
  'empty-choices': {},
  'null-content': {},
  'absent-content': {},
  drip: { timeout: true },
  truncated: { textFirst: true },
}
const KINDS = [...USABLE, ...(Object.keys(UNUSABLE) as Kind[])]

const CONTEXT_WINDOW = 128_000

type Route = 'foundation' | 'fine_tuned'
type Endpoint = 'generate' | 'chat'

interface Expected {
  ok: boolean
  model?: string
  fellBack?: boolean
  code?: 'upstream_error' | 'upstream_timeout'
}

function expectation(kind: Kind, stream: boolean, route: Route): Expected {
  const primary = route === 'foundation' ? FOUNDATION : FINE_TUNED
  if (USABLE.includes(kind)) return { ok: true, model: primary, fellBack: false }
  const how = UNUSABLE[kind]!
  // The fallback can answer unless text already went out on the stream.
  if (route === 'fine_tuned' && !(stream && how.textFirst))
    return { ok: true, model: FOUNDATION, fellBack: true }
  return { ok: false, code: how.timeout ? 'upstream_timeout' : 'upstream_error' }
}

interface Answer {
  status: number
  ok: boolean
  output?: string
  usage?: { promptTokens: number; completionTokens: number; costUsd: number | null }
  route?: { model: string; fellBack: boolean }
  code?: string
  detail?: string
  /** Streams: how it ended ('done', 'error', or 'none' when it just stopped). */
  ending?: 'done' | 'error' | 'none'
}

let f: GenerationFixture

beforeAll(async () => {
  f = await createGenerationFixture()
  await f.putTask('hostile-foundation', textTask())
  await f.putTask(
    'hostile-ft',
    textTask({ route: { strategy: 'fine_tuned', foundationModel: FOUNDATION, fineTunedModel: FINE_TUNED } }),
  )
})
afterAll(async () => f?.close())

async function callGenerate(task: string, stream: boolean, requestId: string): Promise<Answer> {
  const res = await f.t.request('/v1/generate', {
    method: 'POST',
    key: f.t.adminKey,
    headers: { 'x-request-id': requestId },
    json: { task, input: 'Trailblazer tent', variables: { brand: 'Acme' }, stream },
  })
  if (!stream || !res.headers.get('content-type')?.includes('text/event-stream')) {
    const body = await json(res)
    if (res.status !== 200) return { status: res.status, ok: false, code: body.code, detail: body.detail }
    return { status: 200, ok: true, output: body.output, usage: body.usage, route: body.route }
  }
  const events = parseSSE(await res.text())
  const last = events.at(-1)
  const ending = last?.event === 'done' || last?.event === 'error' ? last.event : 'none'
  if (ending !== 'done') {
    const error = ending === 'error' ? JSON.parse(last!.data) : {}
    return { status: res.status, ok: false, ending, code: error.code, detail: error.detail }
  }
  const done = JSON.parse(last!.data)
  const output = events
    .filter((e) => e.event === 'delta')
    .map((e) => JSON.parse(e.data).text)
    .join('')
  return { status: 200, ok: true, ending, output, usage: done.usage, route: done.route }
}

async function callChat(task: string, stream: boolean, requestId: string): Promise<Answer> {
  const res = await f.t.request('/v1/chat/completions', {
    method: 'POST',
    key: f.t.adminKey,
    headers: { 'x-request-id': requestId },
    json: {
      model: task,
      messages: [{ role: 'user', content: 'Trailblazer tent' }],
      onbrand: { variables: { brand: 'Acme' } },
      stream,
      ...(stream ? { stream_options: { include_usage: true } } : {}),
    },
  })
  if (!stream || !res.headers.get('content-type')?.includes('text/event-stream')) {
    const body = await json(res)
    if (res.status !== 200) return { status: res.status, ok: false, code: body.code, detail: body.detail }
    return {
      status: 200,
      ok: true,
      output: body.choices[0].message.content,
      usage: {
        promptTokens: body.usage.prompt_tokens,
        completionTokens: body.usage.completion_tokens,
        costUsd: body.onbrand.costUsd,
      },
      route: body.onbrand.route,
    }
  }
  const chunks = parseSSE(await res.text()).map((e) => e.data)
  if (chunks.at(-1) !== '[DONE]') {
    const last = chunks.at(-1)
    const error = last ? JSON.parse(last).error : undefined
    return {
      status: res.status,
      ok: false,
      ending: error ? 'error' : 'none',
      code: error?.code,
      detail: error?.message,
    }
  }
  const parsed = chunks.slice(0, -1).map((c) => JSON.parse(c))
  const output = parsed.map((c) => c.choices[0]?.delta?.content ?? '').join('')
  const usage = parsed.find((c) => c.usage)?.usage
  const extras = parsed.find((c) => c.onbrand)?.onbrand
  return {
    status: 200,
    ok: true,
    ending: 'done',
    output,
    usage: {
      promptTokens: usage.prompt_tokens,
      completionTokens: usage.completion_tokens,
      costUsd: extras.costUsd,
    },
    route: extras.route,
  }
}

function expectSaneCount(value: unknown) {
  expect(Number.isSafeInteger(value)).toBe(true)
  expect(value as number).toBeGreaterThanOrEqual(0)
  expect(value as number).toBeLessThanOrEqual(2 * CONTEXT_WINDOW)
}

const cases = KINDS.flatMap((kind) =>
  (['generate', 'chat'] as Endpoint[]).flatMap((endpoint) =>
    [false, true].flatMap((stream) =>
      (['foundation', 'fine_tuned'] as Route[]).map((route) => ({ kind, endpoint, stream, route })),
    ),
  ),
)

describe('hostile model replies', () => {
  it.each(cases)(
    '$kind via $endpoint (stream: $stream, route: $route) gets a clear answer and exactly one sane log row',
    async ({ kind, endpoint, stream, route }) => {
      f.stub.reset()
      const primary = route === 'foundation' ? FOUNDATION : FINE_TUNED
      f.stub.misbehaveNext({ kind, model: primary, stream } as Parameters<typeof f.stub.misbehaveNext>[0])
      const requestId = `hostile-${randomUUID()}`
      const task = route === 'foundation' ? 'hostile-foundation' : 'hostile-ft'
      const answer =
        endpoint === 'generate'
          ? await callGenerate(task, stream, requestId)
          : await callChat(task, stream, requestId)
      const expected = expectation(kind, stream, route)

      if (stream && answer.status === 200) expect(answer.ending).not.toBe('none')
      if (expected.ok) {
        expect(answer).toMatchObject({ status: 200, ok: true })
        expect(answer.route).toMatchObject({ model: expected.model, fellBack: expected.fellBack })
        expect(answer.output).toBeTruthy()
        expect(answer.output).not.toContain('\u0000')
        expectSaneCount(answer.usage!.promptTokens)
        expect(answer.usage!.promptTokens).toBeGreaterThan(0)
        expectSaneCount(answer.usage!.completionTokens)
        expect(answer.usage!.costUsd).toBeGreaterThanOrEqual(0)
        expect(answer.usage!.costUsd).toBeLessThan(0.01)
      } else {
        expect(answer.ok).toBe(false)
        if (stream) expect(answer.ending).toBe('error')
        else expect(answer.status).toBe(expected.code === 'upstream_timeout' ? 504 : 502)
        expect(answer.code).toBe(expected.code)
        expect(answer.detail).toContain(requestId)
        // Onbrand's own words, never the provider's or the SDK's.
        expect(answer.detail).not.toMatch(/nginx|stub|position|Cannot read|SyntaxError|TypeError|terminated/i)
      }

      await f.t.flush()
      const { rows } = await f.t.db.pool.query(
        `SELECT status, model, fell_back, output, error, prompt_tokens, completion_tokens,
           cost_usd::float8 AS cost_usd, latency_ms FROM generations WHERE request_id = $1`,
        [requestId],
      )
      expect(rows).toHaveLength(1)
      const row = rows[0]!
      expect(row.status).toBe(expected.ok ? 'succeeded' : 'failed')
      expectSaneCount(row.latency_ms)
      for (const count of [row.prompt_tokens, row.completion_tokens])
        if (count !== null) expectSaneCount(count)
      if (row.cost_usd !== null) expect(row.cost_usd).toBeGreaterThanOrEqual(0)
      if (expected.ok) {
        expect(row).toMatchObject({
          model: expected.model,
          fell_back: expected.fellBack,
          output: answer.output,
          prompt_tokens: answer.usage!.promptTokens,
          completion_tokens: answer.usage!.completionTokens,
        })
      } else {
        expect(row.error).toBeTruthy()
      }
    },
  )

  it('replaces a NUL in the reply with U+FFFD, in the answer and the log alike', async () => {
    f.stub.reset()
    f.stub.setReply(FOUNDATION, 'Light and \u0000 waterproof')
    const requestId = `nul-${randomUUID()}`
    const answer = await callGenerate('hostile-foundation', false, requestId)
    expect(answer.output).toBe('Light and \ufffd waterproof')
    await f.t.flush()
    const { rows } = await f.t.db.pool.query('SELECT output FROM generations WHERE request_id = $1', [
      requestId,
    ])
    expect(rows).toEqual([{ output: 'Light and \ufffd waterproof' }])
  })

  it('counts the tokens itself when the reported usage is implausible, and says so in the log', async () => {
    f.stub.reset()
    f.stub.misbehaveNext({ kind: 'usage-huge', model: FOUNDATION })
    const answer = await callGenerate('hostile-foundation', false, `huge-${randomUUID()}`)
    // The stub's honest count is about a quarter of the characters; ours is the exact BPE count.
    expect(answer.usage!.promptTokens).toBeGreaterThan(20)
    expect(answer.usage!.promptTokens).toBeLessThan(1000)
    expect(f.t.logs.some((line) => String(line.msg).includes('implausible usage'))).toBe(true)
  })
})
