import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createTestApp, json, type TestApp } from '../support/test-app.js'
import {
  createGenerationFixture,
  FINE_TUNED,
  FOUNDATION,
  type GenerationFixture,
  parseSSE,
  textTask,
} from './generation-fixture.js'

let f: GenerationFixture
const schema = {
  type: 'object',
  properties: { subjectLines: { type: 'array', items: { type: 'string', maxLength: 60 }, minItems: 3 } },
  required: ['subjectLines'],
  additionalProperties: false,
}

beforeAll(async () => {
  f = await createGenerationFixture()
  await f.putTask(
    'subjects',
    textTask({ systemPrompt: 'Subject lines as JSON.\n{{context}}', output: { type: 'json', schema } }),
  )
  await f.putTask(
    'split',
    textTask({
      systemPrompt: 'Copy.',
      retrieval: {},
      route: { strategy: 'split', foundationModel: FOUNDATION, fineTunedModel: FINE_TUNED, share: 0.5 },
    }),
  )
})
afterAll(async () => f?.close())
beforeEach(() => f.stub.reset())

describe('JSON tasks', () => {
  it('asks for the schema and returns the parsed output', async () => {
    f.stub.setReply(FOUNDATION, JSON.stringify({ subjectLines: ['a', 'b', 'c'] }))
    const res = await f.generate({ task: 'subjects', input: 'tent sale' })
    const body = await json(res)
    expect(res.status).toBe(200)
    expect(body.json).toEqual({ subjectLines: ['a', 'b', 'c'] })
    const format = f.chatBodies()[0]!.response_format as { type: string; json_schema: { schema: unknown } }
    expect(format.type).toBe('json_schema')
    expect(format.json_schema.schema).toEqual(schema)
  })

  it('retries once with the validation error when the output does not match', async () => {
    let n = 0
    f.stub.setReply(FOUNDATION, () =>
      ++n === 1 ? '{"subjectLines": ["only one"]}' : '{"subjectLines": ["a","b","c"]}',
    )
    const body = await json(await f.generate({ task: 'subjects', input: 'tent sale' }))
    expect(body.json).toEqual({ subjectLines: ['a', 'b', 'c'] })
    expect(f.stub.chatCalls()).toBe(2)
    const retry = f.chatBodies()[1]!.messages as { role: string; content: string }[]
    expect(retry.at(-2)).toEqual({ role: 'assistant', content: '{"subjectLines": ["only one"]}' })
    expect(retry.at(-1)!.content).toContain('subjectLines')
    // Usage covers both calls.
    const rows = await f.generationRows()
    expect(rows.at(-1)!.prompt_tokens).toBe(body.usage.promptTokens)
  })

  it('fails with 502 after a second invalid output, and logs it', async () => {
    f.stub.setReply(FOUNDATION, 'not json at all')
    const res = await f.generate({ task: 'subjects', input: 'tent sale' })
    expect(res.status).toBe(502)
    expect((await json(res)).detail).toContain('not valid JSON')
    expect(f.stub.chatCalls()).toBe(2)
    const row = (await f.generationRows()).at(-1)!
    expect(row.status).toBe('failed')
    expect(row.output).toBe('not json at all')
  })
})

describe('JSON tasks streamed', () => {
  const stream = async (body: Record<string, unknown>) => {
    const res = await f.generate({ ...body, stream: true })
    expect(res.status).toBe(200)
    return parseSSE(await res.text())
  }
  const invalidThenValid = () => {
    let n = 0
    f.stub.setReply(FOUNDATION, () =>
      ++n === 1 ? '{"subjectLines": ["only one"]}' : '{"subjectLines": ["a","b","c"]}',
    )
  }

  it('validate and retry like without streaming, sending only the valid JSON', async () => {
    invalidThenValid()
    const events = await stream({ task: 'subjects', input: 'tent sale' })
    expect(events.map((e) => e.event)).toEqual(['meta', 'delta', 'done'])
    expect(JSON.parse(events[1]!.data).text).toBe('{"subjectLines": ["a","b","c"]}')
    expect(f.stub.chatCalls()).toBe(2)
    const retry = f.chatBodies()[1]!.messages as { role: string; content: string }[]
    expect(retry.at(-2)).toEqual({ role: 'assistant', content: '{"subjectLines": ["only one"]}' })
    expect(retry.at(-1)!.content).toContain('subjectLines')
    const done = JSON.parse(events[2]!.data)
    const row = (await f.generationRows()).at(-1)!
    expect(row).toMatchObject({ status: 'succeeded', output: '{"subjectLines": ["a","b","c"]}' })
    expect(row.prompt_tokens).toBe(done.usage.promptTokens)
  })

  it('end with one error event and no text after a second invalid output, and log it', async () => {
    f.stub.setReply(FOUNDATION, 'not json at all')
    const events = await stream({ task: 'subjects', input: 'tent sale' })
    expect(events.map((e) => e.event)).toEqual(['error'])
    const error = JSON.parse(events[0]!.data)
    expect(error.code).toBe('upstream_error')
    expect(error.detail).toContain('not valid JSON')
    expect(f.stub.chatCalls()).toBe(2)
    expect((await f.generationRows()).at(-1)!).toMatchObject({ status: 'failed', output: 'not json at all' })
  })

  it('validate and retry through /v1/chat/completions streams too', async () => {
    invalidThenValid()
    const res = await f.t.request('/v1/chat/completions', {
      method: 'POST',
      key: f.t.adminKey,
      json: { model: 'subjects', messages: [{ role: 'user', content: 'tent sale' }], stream: true },
    })
    const chunks = parseSSE(await res.text())
      .slice(0, -1)
      .map((e) => JSON.parse(e.data))
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')
    expect(text).toBe('{"subjectLines": ["a","b","c"]}')
    expect(f.stub.chatCalls()).toBe(2)
  })
})

describe('split routing over HTTP', () => {
  it('keeps one subject on one arm and uses both arms across subjects', async () => {
    const models = new Map<string, string>()
    for (let i = 0; i < 20; i++) {
      const subject = `user-${i}`
      const first = await json(await f.generate({ task: 'split', input: 'x', subject }))
      const second = await json(await f.generate({ task: 'split', input: 'x', subject }))
      expect(second.route.model).toBe(first.route.model)
      expect(first.route.reason).toMatch(/^split: bucket 0\.\d{4} /)
      models.set(subject, first.route.model)
    }
    expect(new Set(models.values())).toEqual(new Set([FOUNDATION, FINE_TUNED]))
  })
})

describe('without a model provider', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await createTestApp()
    await t.request('/v1/tasks/copy', { method: 'PUT', key: t.adminKey, json: textTask({ retrieval: {} }) })
  })
  afterAll(async () => t?.close())

  it('answers 503 naming the settings to set', async () => {
    const res = await t.request('/v1/generate', {
      method: 'POST',
      key: t.adminKey,
      json: { task: 'copy', input: 'x', variables: { brand: 'Acme' } },
    })
    expect(res.status).toBe(503)
    const problem = await json(res)
    expect(problem.code).toBe('provider_not_configured')
    for (const setting of ['OPENAI_API_KEY', 'OPENAI_BASE_URL', 'MODELS_FILE'])
      expect(problem.detail).toContain(setting)
  })

  it('still serves dryRun', async () => {
    const res = await t.request('/v1/generate', {
      method: 'POST',
      key: t.adminKey,
      json: { task: 'copy', input: 'x', variables: { brand: 'Acme' }, dryRun: true },
    })
    expect(res.status).toBe(200)
    expect((await json(res)).messages[0].content).toContain('Acme')
  })
})
