import { ChatOpenAI } from '@langchain/openai'
import OpenAI, { APIError } from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { json } from '../support/test-app.js'
import {
  createGenerationFixture,
  FOUNDATION,
  type GenerationFixture,
  parseSSE,
  textTask,
} from './generation-fixture.js'

let f: GenerationFixture
let client: OpenAI
let base: string

beforeAll(async () => {
  f = await createGenerationFixture()
  await f.putTask('copy', textTask({ systemPrompt: 'You write copy.\n{{context}}' }))
  await f.putTask('branded', textTask())
  base = await f.listen()
  client = new OpenAI({ apiKey: f.t.adminKey, baseURL: `${base}/v1`, maxRetries: 0 })
})
afterAll(async () => f?.close())
beforeEach(() => f.stub.reset())

const messages = [
  { role: 'system' as const, content: 'Be brief.' },
  { role: 'user' as const, content: 'Something about hats' },
  { role: 'assistant' as const, content: 'Hats are good.' },
  { role: 'user' as const, content: 'Trailblazer tent plain English' },
]

describe('POST /v1/chat/completions with the openai SDK', () => {
  it('answers a chat.completion with usage and Onbrand extras', async () => {
    f.stub.setReply(FOUNDATION, 'Sleeps two [1].')
    const completion = await client.chat.completions.create({ model: 'copy', messages })
    expect(completion.object).toBe('chat.completion')
    expect(completion.model).toBe('copy')
    expect(completion.choices[0]!.message.content).toBe('Sleeps two [1].')
    expect(completion.choices[0]!.finish_reason).toBe('stop')
    expect(completion.usage!.total_tokens).toBe(
      completion.usage!.prompt_tokens + completion.usage!.completion_tokens,
    )
    const extras = (completion as unknown as { onbrand: Record<string, unknown> }).onbrand
    expect(extras).toMatchObject({ task: { name: 'copy', version: 1 }, route: { model: FOUNDATION } })
    expect((extras.citations as { cited: boolean }[]).some((c) => c.cited)).toBe(true)
  })

  it("puts the task's system prompt first and answers the last user message", async () => {
    const conversation = [...messages, { role: 'user' as const, content: 'GST disclaimers for the tent' }]
    await client.chat.completions.create({ model: 'copy', messages: conversation })
    const sent = f.chatBodies()[0]!.messages as { role: string; content: string }[]
    expect(sent[0]!.role).toBe('system')
    expect(sent[0]!.content).toContain('You write copy.')
    expect(sent[0]!.content).toContain('<reference_data>')
    expect(sent.slice(1)).toEqual(conversation)
    expect(f.stub.embeddedInputs()).toEqual(['GST disclaimers for the tent'])
    const row = (await f.generationRows()).at(-1)!
    expect(row.endpoint).toBe('chat_completions')
  })

  it('streams chunks, with usage when asked, and ends with [DONE]', async () => {
    f.stub.setReply(FOUNDATION, 'A tent for two.')
    const stream = await client.chat.completions.create({
      model: 'copy',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    })
    let text = ''
    let usage: OpenAI.CompletionUsage | null | undefined
    let finish: string | null = null
    for await (const chunk of stream) {
      expect(chunk.object).toBe('chat.completion.chunk')
      text += chunk.choices[0]?.delta.content ?? ''
      finish = chunk.choices[0]?.finish_reason ?? finish
      if (chunk.usage) usage = chunk.usage
    }
    expect(text).toBe('A tent for two.')
    expect(finish).toBe('stop')
    expect(usage!.completion_tokens).toBeGreaterThan(0)
  })

  it('ends the raw stream with data: [DONE]', async () => {
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${f.t.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'copy', messages, stream: true }),
    })
    const events = parseSSE(await res.text())
    expect(events.at(-1)!.data).toBe('[DONE]')
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data))
    expect(chunks[0].choices[0].delta.role).toBe('assistant')
    expect(chunks.at(-1).choices[0].finish_reason).toBe('stop')
    expect(chunks.at(-1).onbrand.id).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('passes variables and a subject through the onbrand extension and user', async () => {
    const completion = await client.chat.completions.create({
      model: 'branded',
      messages,
      user: 'subject-7',
      // @ts-expect-error Onbrand's extension is not part of the OpenAI types
      onbrand: { variables: { brand: 'Acme' } },
    })
    expect(completion.choices[0]!.message.content).toBeTruthy()
    expect((f.chatBodies()[0]!.messages as { content: string }[])[0]!.content).toContain('for Acme')
    expect((await f.generationRows()).at(-1)!.subject).toBe('subject-7')
  })

  it('raises an APIError with the status and a readable message', async () => {
    const unknown = await client.chat.completions
      .create({ model: 'no-such-task', messages })
      .catch((e: unknown) => e)
    expect(unknown).toBeInstanceOf(APIError)
    expect((unknown as APIError).status).toBe(404)
    expect((unknown as APIError).message).toContain('No task named no-such-task')

    f.stub.failNext({ path: 'chat', status: 500 })
    const failed = await client.chat.completions.create({ model: 'copy', messages }).catch((e: unknown) => e)
    expect((failed as APIError).status).toBe(502)
    expect((failed as APIError).message).toMatch(/model call failed.*request id/i)

    const badKey = new OpenAI({ apiKey: 'nope', baseURL: `${base}/v1`, maxRetries: 0 })
    const unauthorized = await badKey.chat.completions
      .create({ model: 'copy', messages })
      .catch((e: unknown) => e)
    expect((unauthorized as APIError).status).toBe(401)
  })

  it('keeps problem+json for errors, with the OpenAI error field added', async () => {
    const res = await f.t.request('/v1/chat/completions', {
      method: 'POST',
      key: f.t.adminKey,
      json: { model: 'copy', messages: [{ role: 'system', content: 'only system' }] },
    })
    expect(res.status).toBe(400)
    expect(res.headers.get('content-type')).toContain('application/problem+json')
    const body = await json(res)
    expect(body.code).toBe('validation_failed')
    expect(body.error).toMatchObject({ type: 'validation_failed', code: 'validation_failed' })
  })
})

describe('LangChain ChatOpenAI pointed at Onbrand', () => {
  const model = () =>
    new ChatOpenAI({
      model: 'copy',
      apiKey: f.t.adminKey,
      configuration: { baseURL: `${base}/v1` },
      maxRetries: 0,
    })

  it('invokes', async () => {
    f.stub.setReply(FOUNDATION, 'Hello from the task.')
    const reply = await model().invoke('Trailblazer tent')
    expect(reply.content).toBe('Hello from the task.')
    expect(reply.usage_metadata?.output_tokens).toBeGreaterThan(0)
  })

  it('streams, usage included', async () => {
    f.stub.setReply(FOUNDATION, 'Streamed through two hops.')
    let text = ''
    let outputTokens = 0
    for await (const chunk of await model().stream('Trailblazer tent')) {
      text += chunk.content as string
      outputTokens += chunk.usage_metadata?.output_tokens ?? 0
    }
    expect(text).toBe('Streamed through two hops.')
    expect(outputTokens).toBeGreaterThan(0)
  })
})
