import OpenAI, { APIError, NotFoundError, PermissionDeniedError } from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { json } from '../support/test-app.js'
import {
  createGenerationFixture,
  FOUNDATION,
  type GenerationFixture,
  parseSSE,
  textTask,
} from './generation-fixture.js'

/** The OpenAI-compatible surface as the official SDK sees it: models, errors, refused request fields. */

let f: GenerationFixture
let base: string
let client: OpenAI
const sdk = (apiKey: string) => new OpenAI({ apiKey, baseURL: `${base}/v1`, maxRetries: 0 })
const user = [{ role: 'user' as const, content: 'Trailblazer tent' }]

beforeAll(async () => {
  f = await createGenerationFixture()
  await f.putTask('copy', textTask({ systemPrompt: 'You write copy.\n{{context}}' }))
  await f.putTask('free-form', textTask({ systemPrompt: 'No retrieval here.', retrieval: {} }))
  await f.t.db.pool.query(
    `INSERT INTO collections (name, embedding_model, embedding_dimensions) VALUES ('elsewhere', 'text-embedding-3-small', 64)`,
  )
  await f.putTask('other-team', textTask({ retrieval: { collection: 'elsewhere' } }))
  base = await f.listen()
  client = sdk(f.t.adminKey)
})
afterAll(async () => f?.close())
beforeEach(() => f.stub.reset())

async function failure(promise: Promise<unknown>): Promise<APIError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(APIError)
  return error as APIError
}

describe('GET /v1/models with the openai SDK', () => {
  it('lists every task the key may call, as OpenAI models', async () => {
    const page = await client.models.list()
    expect(page.data.map((m) => m.id)).toEqual(['copy', 'free-form', 'other-team'])
    for (const model of page.data) {
      expect(model).toEqual({
        id: model.id,
        object: 'model',
        created: expect.any(Number),
        owned_by: 'onbrand',
      })
      expect(Math.abs(model.created - Date.now() / 1000)).toBeLessThan(3600)
    }
    const raw = await fetch(`${base}/v1/models`, { headers: { authorization: `Bearer ${f.t.adminKey}` } })
    expect(await raw.json()).toMatchObject({ object: 'list', data: expect.any(Array) })
  })

  it('retrieves one task as a model', async () => {
    const model = await client.models.retrieve('copy')
    expect(model).toMatchObject({ id: 'copy', object: 'model', owned_by: 'onbrand' })
  })

  it('answers an unknown model with 404 in the OpenAI error shape', async () => {
    const error = await failure(client.models.retrieve('no-such-task'))
    expect(error).toBeInstanceOf(NotFoundError)
    expect(error.message).toContain('no-such-task')
    const res = await f.t.request('/v1/models/NOT%20A%20NAME', { key: f.t.adminKey })
    expect(res.status).toBe(404)
    expect((await json(res)).error).toMatchObject({ type: 'not_found', code: 'not_found', param: null })
  })

  it("shows a collection-limited key only the tasks of its collections, and hides the others' (404)", async () => {
    const limited = sdk((await f.t.makeKey(['generate'], ['brand'])).key)
    expect((await limited.models.list()).data.map((m) => m.id)).toEqual(['copy', 'free-form'])
    expect((await limited.models.retrieve('free-form')).id).toBe('free-form')
    expect(await failure(limited.models.retrieve('other-team'))).toBeInstanceOf(NotFoundError)

    const elsewhere = sdk((await f.t.makeKey(['generate'], ['elsewhere'])).key)
    expect((await elsewhere.models.list()).data.map((m) => m.id)).toEqual(['free-form', 'other-team'])
  })

  it('needs the generate scope', async () => {
    const adminOnly = sdk((await f.t.makeKey(['admin'])).key)
    const error = await failure(adminOnly.models.list())
    expect(error).toBeInstanceOf(PermissionDeniedError)
    expect(error.message).toContain('generate')
    expect((await failure(sdk('onb_nope').models.list())).status).toBe(401)
  })
})

describe('unknown /v1 routes', () => {
  it('answer 404 in the OpenAI error shape, which the SDK reads', async () => {
    const error = await failure(client.get('/embeddings-nope'))
    expect(error).toBeInstanceOf(NotFoundError)
    expect(error.message).toContain('No route for GET /v1/embeddings-nope')

    for (const [method, path] of [
      ['POST', '/v1/embeddings'],
      ['GET', '/v1/chat/completions'],
      ['DELETE', '/v1/models/copy'],
    ] as const) {
      const res = await f.t.request(path, { method, key: f.t.adminKey })
      expect(res.status, `${method} ${path}`).toBe(404)
      const body = await json(res)
      expect(body.error).toEqual({
        message: expect.stringContaining(`No route for ${method} ${path}`),
        type: 'not_found',
        param: null,
        code: 'not_found',
      })
      expect(body.code).toBe('not_found')
    }
  })

  it('leave routes outside /v1 plain problem+json', async () => {
    const res = await f.t.request('/nope')
    expect(res.status).toBe(404)
    expect((await json(res)).error).toBeUndefined()
  })
})

describe('request fields of POST /v1/chat/completions', () => {
  const create = (extra: Record<string, unknown>, key = f.t.adminKey) =>
    sdk(key).chat.completions.create({ model: 'copy', messages: user, ...extra } as never)

  it.each([
    ['tools', { tools: [{ type: 'function', function: { name: 'lookup', parameters: {} } }] }, 'tools'],
    ['tool_choice', { tool_choice: 'auto' }, 'tool_choice'],
    ['functions', { functions: [{ name: 'lookup' }] }, 'functions'],
    ['response_format json_object', { response_format: { type: 'json_object' } }, 'response_format'],
    [
      'response_format json_schema',
      { response_format: { type: 'json_schema', json_schema: { name: 'x', schema: {} } } },
      'response_format',
    ],
    ['n > 1', { n: 2 }, 'n'],
    ['stop', { stop: ['\n'] }, 'stop'],
    ['logprobs', { logprobs: true }, 'logprobs'],
    ['audio', { audio: { voice: 'alloy', format: 'mp3' }, modalities: ['text', 'audio'] }, 'audio'],
    ['an unknown field', { frobnicate: 1 }, 'frobnicate'],
    ['an unknown onbrand field', { onbrand: { colection: 'brand' } }, 'onbrand.colection'],
  ])('refuses %s with a 400 naming the field', async (_label, extra, param) => {
    const error = await failure(create(extra))
    expect(error.status).toBe(400)
    expect(error.param).toBe(param)
    expect(error.message).toContain(`${param}: `)
    expect(f.chatBodies()).toHaveLength(0)
  })

  it('refuses image and audio content parts, and tool messages, naming where they are', async () => {
    const image = await failure(
      create({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Describe this tent' },
              { type: 'image_url', image_url: { url: 'https://example.com/tent.png' } },
            ],
          },
        ],
      }),
    )
    expect(image.status).toBe(400)
    expect(image.param).toBe('messages.0.content.1.type')
    expect(image.message).toContain('"image_url" parts are refused')

    const audio = await failure(
      create({
        messages: [
          { role: 'user', content: [{ type: 'input_audio', input_audio: { data: '', format: 'wav' } }] },
        ],
      }),
    )
    expect(audio.param).toBe('messages.0.content.0.type')

    const tool = await failure(
      create({
        messages: [
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'c1', type: 'function', function: { name: 'x', arguments: '{}' } }],
          },
          { role: 'tool', tool_call_id: 'c1', content: 'result' },
          ...user,
        ],
      }),
    )
    expect(tool.status).toBe(400)
    expect(tool.param).toBe('messages.0.tool_calls')
    expect(tool.message).toContain('messages.1.role')
    expect(f.chatBodies()).toHaveLength(0)
  })

  it('accepts the no-op forms of refused fields and the documented ignored fields', async () => {
    f.stub.setReply(FOUNDATION, 'Fine.')
    const completion = await create({
      n: 1,
      tools: [],
      tool_choice: 'none',
      response_format: { type: 'text' },
      stop: null,
      logprobs: false,
      modalities: ['text'],
      top_p: 0.9,
      seed: 7,
      presence_penalty: 0.1,
      frequency_penalty: 0.1,
      logit_bias: { '50256': -100 },
      store: false,
      metadata: { app: 'x' },
      parallel_tool_calls: false,
      messages: [{ role: 'user', name: 'sam', content: [{ type: 'text', text: 'Trailblazer tent' }] }],
    })
    expect(completion.choices[0]!.message.content).toBe('Fine.')
    const sent = f.chatBodies()[0]!
    for (const field of ['tools', 'tool_choice', 'seed', 'top_p', 'logit_bias', 'stop'])
      expect(sent[field]).toBeUndefined()
  })
})

describe('the onbrand extension in streams', () => {
  const stream = async (extra: Record<string, unknown>) => {
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${f.t.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'copy', messages: user, stream: true, ...extra }),
    })
    const events = parseSSE(await res.text())
    expect(events.at(-1)!.data).toBe('[DONE]')
    return events.slice(0, -1).map((e) => JSON.parse(e.data) as Record<string, any>)
  }

  it('rides on the chunk with finish_reason, and only there; the usage chunk comes after it', async () => {
    f.stub.setReply(FOUNDATION, 'A tent for two [1].')
    const plain = await stream({})
    expect(plain.filter((c) => c.onbrand).map((c) => plain.indexOf(c))).toEqual([plain.length - 1])
    expect(plain.at(-1)!.choices[0].finish_reason).toBe('stop')
    expect(plain.at(-1)!.onbrand).toMatchObject({ task: { name: 'copy' }, citations: expect.any(Array) })

    const withUsage = await stream({ stream_options: { include_usage: true } })
    const carrying = withUsage.filter((c) => c.onbrand)
    expect(carrying).toHaveLength(1)
    expect(carrying[0]!.choices[0].finish_reason).toBe('stop')
    expect(withUsage.indexOf(carrying[0]!)).toBe(withUsage.length - 2)
    expect(withUsage.at(-1)).toMatchObject({ choices: [], usage: { total_tokens: expect.any(Number) } })
  })
})
