import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AIMessageChunk, UsageMetadata } from '@langchain/core/messages'
import { ChatOpenAI, OpenAIEmbeddings } from '@langchain/openai'
import OpenAI, { APIConnectionError, APIError, toFile } from 'openai'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  deterministicEmbedding,
  distinctReply,
  type MisbehaviourKind,
  type OpenAIStub,
  startOpenAIStub,
} from '../support/openai-stub.js'

let stub: OpenAIStub

beforeAll(async () => {
  stub = await startOpenAIStub()
})

afterEach(() => {
  stub.reset()
  stub.setOptions({
    latencyMs: 0,
    tokenDelayMs: 0,
    embeddingDimensions: 64,
    distinctReplies: false,
    fineTuneProgress: 'per-get',
    minTrainingExamples: 10,
  })
})

afterAll(async () => {
  await stub.close()
})

function embeddings(
  overrides: Partial<ConstructorParameters<typeof OpenAIEmbeddings>[0]> = {},
): OpenAIEmbeddings {
  return new OpenAIEmbeddings({
    model: 'text-embedding-3-small',
    dimensions: 64,
    apiKey: 'test',
    configuration: { baseURL: stub.url },
    ...overrides,
  })
}

function chat(overrides: Partial<ConstructorParameters<typeof ChatOpenAI>[0]> = {}): ChatOpenAI {
  return new ChatOpenAI({
    model: 'gpt-4o-mini',
    apiKey: 'test',
    maxRetries: 0,
    configuration: { baseURL: stub.url },
    ...overrides,
  })
}

function cosine(a: number[], b: number[]): number {
  let dot = 0
  let na = 0
  let nb = 0
  a.forEach((v, i) => {
    const w = b[i] ?? 0
    dot += v * w
    na += v * v
    nb += w * w
  })
  return dot / Math.sqrt(na * nb)
}

// Read through a plain shape: LangChain's message generics collapse `usage_metadata`
// to `never` under `exactOptionalPropertyTypes`.
function usageOf(message: object): UsageMetadata | undefined {
  return (message as { usage_metadata?: UsageMetadata }).usage_metadata
}

function textOf(chunk: AIMessageChunk): string {
  return typeof chunk.content === 'string' ? chunk.content : ''
}

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe('embeddings through OpenAIEmbeddings', () => {
  it('returns one deterministic vector per document with the requested dimensions', async () => {
    const docs = ['Brand voice: warm and direct.', 'Return policy: 30 days.']
    const vectors = await embeddings().embedDocuments(docs)

    expect(vectors).toHaveLength(2)
    vectors.forEach((vector, i) => {
      expect(vector).toHaveLength(64)
      expect(vector).toEqual(deterministicEmbedding(docs[i] ?? '', 64))
    })
    expect(stub.embeddingCalls()).toBe(1)
    expect(stub.embeddedInputs()).toEqual(docs)
  })

  it('gets base64 embeddings by default because the openai SDK asks for them, and decodes them', async () => {
    const vector = await embeddings().embedQuery('tone of voice')

    const body = stub.calls[0]?.body
    expect(body?.encoding_format).toBe('base64')
    expect(body?.dimensions).toBe(64)
    expect(body?.model).toBe('text-embedding-3-small')
    expect(vector).toEqual(deterministicEmbedding('tone of voice', 64))
  })

  it('returns float arrays when the client asks for encoding_format float', async () => {
    const vector = await embeddings({ encodingFormat: 'float' }).embedQuery('tone of voice')

    expect(stub.calls[0]?.body.encoding_format).toBe('float')
    expect(vector).toEqual(deterministicEmbedding('tone of voice', 64))
  })

  it('uses the default dimensions when the request does not specify any', async () => {
    stub.setOptions({ embeddingDimensions: 32 })
    const client = new OpenAIEmbeddings({
      model: 'text-embedding-3-small',
      apiKey: 'test',
      configuration: { baseURL: stub.url },
    })
    const vector = await client.embedQuery('hello')

    expect(stub.calls[0]?.body.dimensions).toBeUndefined()
    expect(vector).toHaveLength(32)
  })

  it('sends the API key as a bearer Authorization header', async () => {
    await embeddings().embedQuery('hello')

    expect(stub.calls[0]?.headers.authorization).toBe('Bearer test')
  })

  it('ranks texts that share words above unrelated texts', async () => {
    const [query, related, unrelated] = await embeddings().embedDocuments([
      'brand voice and tone',
      'our voice and tone guidelines',
      'return policy for shoes',
    ])

    expect(cosine(query ?? [], related ?? [])).toBeGreaterThan(cosine(query ?? [], unrelated ?? []))
    expect(cosine(query ?? [], related ?? [])).toBeGreaterThan(0.5)
  })

  it('produces unit vectors, including for text with no words', () => {
    for (const text of ['Some words here', '', 'the and of', '!!!']) {
      const vector = deterministicEmbedding(text, 64)
      const norm = Math.sqrt(vector.reduce((s, v) => s + v * v, 0))
      expect(norm).toBeCloseTo(1, 5)
    }
  })

  it('treats spelling variants and inflections as similar', () => {
    const colour = deterministicEmbedding('colour', 256)
    expect(cosine(colour, deterministicEmbedding('color', 256))).toBeGreaterThan(
      cosine(colour, deterministicEmbedding('shoes', 256)),
    )
    expect(
      cosine(deterministicEmbedding('running shoes', 64), deterministicEmbedding('run shoe', 64)),
    ).toBeCloseTo(1, 5)
  })
})

describe('chat completions through ChatOpenAI', () => {
  it('answers invoke with the echo reply and token usage', async () => {
    const message = await chat().invoke('What is our brand voice?')

    expect(message.content).toBe('Echo: What is our brand voice? [1]')
    expect(usageOf(message)?.input_tokens).toBe(Math.ceil('What is our brand voice?'.length / 4))
    expect(usageOf(message)?.output_tokens).toBe(Math.ceil('Echo: What is our brand voice? [1]'.length / 4))
    expect(stub.chatCalls()).toBe(1)
    expect(stub.calls[0]?.headers.authorization).toBe('Bearer test')
  })

  it('returns the scripted reply for a model, as text or from a function of the request', async () => {
    stub.setReply('gpt-4o-mini', 'Our voice is warm [1].')
    stub.setReply('gpt-4o', (body) => `messages=${Array.isArray(body.messages) ? body.messages.length : 0}`)

    expect((await chat().invoke('hi')).content).toBe('Our voice is warm [1].')
    expect(
      (
        await chat({ model: 'gpt-4o' }).invoke([
          ['system', 'be brief'],
          ['user', 'hi'],
        ])
      ).content,
    ).toBe('messages=2')
  })

  it('streams the reply in several chunks and reports usage when streamUsage is on', async () => {
    stub.setReply('gpt-4o-mini', 'Warm, direct and confident, never sarcastic.')
    const chunks: AIMessageChunk[] = []
    for await (const chunk of await chat({ streamUsage: true }).stream('voice?')) chunks.push(chunk)

    expect(chunks.map(textOf).join('')).toBe('Warm, direct and confident, never sarcastic.')
    expect(chunks.filter((c) => textOf(c) !== '').length).toBeGreaterThanOrEqual(6)
    const usage = chunks.map(usageOf).find((u) => u !== undefined)
    expect(usage?.output_tokens).toBe(Math.ceil('Warm, direct and confident, never sarcastic.'.length / 4))
    expect(usage?.input_tokens).toBe(Math.ceil('voice?'.length / 4))
    const body = stub.calls[0]?.body
    expect(body?.stream).toBe(true)
    expect(body?.stream_options).toEqual({ include_usage: true })
  })

  it('streams without a usage chunk when streamUsage is off', async () => {
    const chunks: AIMessageChunk[] = []
    for await (const chunk of await chat({ streamUsage: false }).stream('hello there')) chunks.push(chunk)

    expect(chunks.map(textOf).join('')).toBe('Echo: hello there [1]')
    expect(chunks.some((c) => usageOf(c) !== undefined)).toBe(false)
    expect(stub.calls[0]?.body.stream_options).toBeUndefined()
  })

  it('fills a json_schema response format with a conforming placeholder object', async () => {
    const res = await fetch(`${stub.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'x' }],
        response_format: {
          type: 'json_schema',
          json_schema: {
            name: 'answer',
            schema: {
              type: 'object',
              properties: {
                answer: { type: 'string' },
                sources: { type: 'array', items: { type: 'number' } },
              },
            },
          },
        },
      }),
    })
    const json = (await res.json()) as { choices: { message: { content: string } }[] }

    expect(JSON.parse(json.choices[0]?.message.content ?? '')).toEqual({ answer: 'stub', sources: [] })
  })
})

describe('fault injection', () => {
  it('surfaces a 500 as an error when retries are off', async () => {
    stub.failNext({ path: 'chat', status: 500 })

    await expect(chat({ maxRetries: 0 }).invoke('hi')).rejects.toMatchObject({ status: 500 })
    expect(stub.chatCalls()).toBe(1)
  })

  it('succeeds on the retry after a single injected failure', async () => {
    stub.failNext({ path: 'chat', status: 500, times: 1 })

    const message = await chat({ maxRetries: 1 }).invoke('hi')

    expect(message.content).toBe('Echo: hi [1]')
    expect(stub.chatCalls()).toBe(2)
  }, 15_000)

  it('only consumes failures queued for the matching path', async () => {
    stub.failNext({ path: 'chat', status: 503 })

    await expect(embeddings().embedQuery('fine')).resolves.toHaveLength(64)
    await expect(chat().invoke('hi')).rejects.toMatchObject({ status: 503 })
    await expect(chat().invoke('hi')).resolves.toBeDefined()
  })

  it('answers failures in the OpenAI error shape with a Retry-After header', async () => {
    stub.failNext({ status: 429, retryAfterSeconds: 7 })
    const res = await fetch(`${stub.url}/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', input: 'x' }),
    })

    expect(res.status).toBe(429)
    expect(res.headers.get('retry-after')).toBe('7')
    expect(await res.json()).toEqual({
      error: { message: expect.any(String), type: 'requests', param: null, code: 'rate_limit_exceeded' },
    })
  })

  it('rejects unknown paths with 404 and invalid JSON with 400', async () => {
    const notFound = await fetch(`${stub.url}/nope`, { method: 'POST', body: '{}' })
    const badJson = await fetch(`${stub.url}/chat/completions`, { method: 'POST', body: '{not json' })

    expect(notFound.status).toBe(404)
    expect(((await notFound.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error')
    expect(badJson.status).toBe(400)
    expect(((await badJson.json()) as { error: { param: null } }).error.param).toBeNull()
  })

  it('lets a client timeout end a hanging request, which counts as aborted', async () => {
    stub.hangNext({ path: 'chat' })

    await expect(chat({ timeout: 200 }).invoke('hi')).rejects.toThrow(/timed? ?out/i)
    await waitFor(() => stub.activeRequests() === 0)
    expect(stub.abortedRequests()).toBe(1)
  })

  it('reports a dropped connection as a connection error', async () => {
    stub.dropNext({ path: 'embeddings' })

    await expect(embeddings({ maxRetries: 0 }).embedQuery('x')).rejects.toThrow(/connection/i)
    expect(stub.abortedRequests()).toBe(0)
  })

  it('breaks a stream after the requested number of content chunks', async () => {
    stub.setReply('gpt-4o-mini', 'one two three four five six')
    stub.breakStreamAfter({ chunks: 2 })
    const received: string[] = []

    await expect(
      (async () => {
        for await (const chunk of await chat().stream('go')) received.push(textOf(chunk))
      })(),
    ).rejects.toThrow()
    expect(received.join('')).toBe('one two')
  })

  it('counts a stream the client aborts midway as an aborted request', async () => {
    stub.setOptions({ tokenDelayMs: 20 })
    stub.setReply('gpt-4o-mini', 'one two three four five six seven eight nine ten')
    const controller = new AbortController()
    const received: string[] = []

    await expect(
      (async () => {
        for await (const chunk of await chat().stream('go', { signal: controller.signal })) {
          received.push(textOf(chunk))
          if (received.join('').includes('two')) controller.abort()
        }
      })(),
    ).rejects.toThrow(/abort/i)
    await waitFor(() => stub.activeRequests() === 0)
    expect(stub.abortedRequests()).toBe(1)
    expect(received.join('')).not.toContain('ten')
  })

  it('serves many concurrent requests', async () => {
    const client = embeddings()
    const vectors = await Promise.all(Array.from({ length: 50 }, (_, i) => client.embedQuery(`text ${i}`)))

    expect(vectors).toHaveLength(50)
    expect(stub.embeddingCalls()).toBe(50)
    expect(stub.activeRequests()).toBe(0)
  })

  it('delays responses by the configured latency', async () => {
    stub.setOptions({ latencyMs: 150 })
    const started = Date.now()
    await embeddings().embedQuery('slow')

    expect(Date.now() - started).toBeGreaterThanOrEqual(140)
  })

  it('closes promptly while a request is still hanging', async () => {
    const local = await startOpenAIStub()
    local.hangNext({})
    const pending = fetch(`${local.url}/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', input: 'x' }),
    }).catch((error: unknown) => error)
    await waitFor(() => local.activeRequests() === 1)

    const started = Date.now()
    await local.close()

    expect(Date.now() - started).toBeLessThan(1000)
    expect(await pending).toBeInstanceOf(Error)
    expect(local.abortedRequests()).toBe(0)
  })
})

// ---------------------------------------------------------------------------------------------------
// Through the official openai SDK and raw HTTP: hostile replies, replies per model, judges, per-model
// latency and outages, files, fine-tuning and models.
// ---------------------------------------------------------------------------------------------------

function sdk(overrides: Partial<NonNullable<ConstructorParameters<typeof OpenAI>[0]>> = {}): OpenAI {
  return new OpenAI({ apiKey: 'test', baseURL: stub.url, maxRetries: 0, ...overrides })
}

const ask = (content: string) => [{ role: 'user' as const, content }]

function postChat(body: Record<string, unknown>): Promise<Response> {
  return fetch(`${stub.url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: ask('hello there my friend'), ...body }),
  })
}

/** The `data:` payloads of an SSE body, in order. */
function sseData(text: string): string[] {
  return text
    .split('\n\n')
    .filter((block) => block.startsWith('data: '))
    .map((block) => block.slice('data: '.length))
}

/** Streams a chat completion through the SDK and collects the chunks. */
async function sdkStream(
  model: string,
  content: string,
  extra: { stream_options?: { include_usage: boolean } } = {},
  client = sdk(),
) {
  const chunks = []
  for await (const chunk of await client.chat.completions.create({
    model,
    messages: ask(content),
    stream: true,
    ...extra,
  })) {
    chunks.push(chunk)
  }
  return { chunks, text: chunks.map((c) => c.choices[0]?.delta.content ?? '').join('') }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected the promise to reject')
}

describe('hostile chat replies (misbehaveNext)', () => {
  it('puts a NUL character inside the content of a completion and of a stream', async () => {
    stub.misbehaveNext({ kind: 'nul-in-content', times: 2 })

    const completion = await sdk().chat.completions.create({
      model: 'gpt-4o-mini',
      messages: ask('hi there'),
    })
    const { text } = await sdkStream('gpt-4o-mini', 'hi there')

    expect(completion.choices[0]?.message.content).toContain('\u0000')
    expect(completion.choices[0]?.message.content?.replace('\u0000', '')).toBe('Echo: hi there [1]')
    expect(text).toContain('\u0000')
    expect(text.replace('\u0000', '')).toBe('Echo: hi there [1]')
    expect(
      (await sdk().chat.completions.create({ model: 'm', messages: ask('x') })).choices[0]?.message.content,
    ).toBe('Echo: x [1]')
  })

  it.each([
    ['usage-huge', { prompt_tokens: 1e12, completion_tokens: 1e12, total_tokens: 2e12 }],
    ['usage-negative', { prompt_tokens: -5, completion_tokens: -12, total_tokens: -17 }],
    ['usage-non-numeric', { prompt_tokens: 'lots', completion_tokens: 'many', total_tokens: 'NaN' }],
  ] as const)('reports %s usage in a completion and in the usage chunk of a stream', async (kind, usage) => {
    stub.misbehaveNext({ kind, times: 2 })

    const completion = await sdk().chat.completions.create({ model: 'gpt-4o-mini', messages: ask('hi') })
    const { chunks } = await sdkStream('gpt-4o-mini', 'hi', { stream_options: { include_usage: true } })

    expect(completion.usage).toMatchObject(usage)
    expect(chunks.find((c) => c.usage)?.usage).toMatchObject(usage)
    expect(
      (await sdk().chat.completions.create({ model: 'm', messages: ask('hi') })).usage?.prompt_tokens,
    ).toBe(1)
  })

  it('leaves usage out of a completion and out of a stream that asked for it with usage-missing', async () => {
    stub.misbehaveNext({ kind: 'usage-missing', times: 2 })

    const completion = await sdk().chat.completions.create({ model: 'gpt-4o-mini', messages: ask('hi') })
    const { chunks, text } = await sdkStream('gpt-4o-mini', 'hi', { stream_options: { include_usage: true } })

    expect(completion).not.toHaveProperty('usage')
    expect(completion.choices[0]?.message.content).toBe('Echo: hi [1]')
    expect(chunks.some((c) => c.usage)).toBe(false)
    expect(text).toBe('Echo: hi [1]')
  })

  it('answers 200 with half a JSON body, which the SDK cannot parse', async () => {
    stub.misbehaveNext({ kind: 'invalid-json', times: 2 })

    const res = await postChat({})
    const body = await res.text()

    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/json')
    expect(body.startsWith('{"id":"chatcmpl-')).toBe(true)
    expect(() => JSON.parse(body)).toThrow(SyntaxError)
    await expect(sdk().chat.completions.create({ model: 'm', messages: ask('x') })).rejects.toThrow(
      SyntaxError,
    )
  })

  it('streams one chunk of broken JSON after the chosen number of content chunks', async () => {
    stub.misbehaveNext({ kind: 'invalid-json', afterChunks: 2, times: 2 })

    const data = sseData(await (await postChat({ stream: true })).text())
    const broken = data.filter((d) => {
      try {
        JSON.parse(d)
        return false
      } catch {
        return d !== '[DONE]'
      }
    })
    const contents = data
      .slice(0, data.indexOf(broken[0] ?? ''))
      .map((d) => JSON.parse(d).choices[0].delta.content)

    expect(broken).toHaveLength(1)
    expect(contents).toEqual(['', 'Echo:', ' hello'])
    await expect(sdkStream('gpt-4o-mini', 'one two three')).rejects.toThrow(SyntaxError)
  })

  it('answers an HTML proxy page with status 200, which the SDK hands back as a string, or 502', async () => {
    stub.misbehaveNext({ kind: 'html' })
    stub.misbehaveNext({ kind: 'html', status: 502 })
    stub.misbehaveNext({ kind: 'html', html: '<p>captive portal</p>', stream: true })

    const ok = await sdk().chat.completions.create({ model: 'gpt-4o-mini', messages: ask('hi') })
    const gateway = await rejection(
      sdk().chat.completions.create({ model: 'gpt-4o-mini', messages: ask('hi') }),
    )
    const res = await postChat({ stream: true })

    expect(typeof ok).toBe('string')
    expect(String(ok)).toContain('502 Bad Gateway')
    expect(gateway).toBeInstanceOf(APIError)
    expect((gateway as APIError).status).toBe(502)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/html')
    expect(await res.text()).toBe('<p>captive portal</p>')
  })

  it('answers choices: [] in a completion and in every chunk of a stream', async () => {
    stub.misbehaveNext({ kind: 'empty-choices', times: 2 })

    const completion = await sdk().chat.completions.create({ model: 'gpt-4o-mini', messages: ask('hi') })
    const { chunks } = await sdkStream('gpt-4o-mini', 'one two three')

    expect(completion.choices).toEqual([])
    expect(completion.usage?.completion_tokens).toBeGreaterThan(0)
    expect(chunks.length).toBeGreaterThan(3)
    expect(chunks.every((c) => c.choices.length === 0)).toBe(true)
  })

  it('answers a null or an absent message content, in completions and in streams', async () => {
    stub.misbehaveNext({ kind: 'null-content', times: 2 })
    stub.misbehaveNext({ kind: 'absent-content', times: 2 })

    const nullMessage = (await sdk().chat.completions.create({ model: 'm', messages: ask('hi') })).choices[0]
      ?.message
    const nullStream = sseData(await (await postChat({ stream: true })).text())
    const absentMessage = (await sdk().chat.completions.create({ model: 'm', messages: ask('hi') }))
      .choices[0]?.message
    const absentStream = sseData(await (await postChat({ stream: true })).text())
    const deltas = (data: string[]) =>
      data.filter((d) => d !== '[DONE]').map((d) => JSON.parse(d).choices[0].delta)

    expect(nullMessage).toMatchObject({ role: 'assistant', content: null })
    expect(deltas(nullStream)).toEqual([{ role: 'assistant', content: null, refusal: null }, {}])
    expect(absentMessage?.role).toBe('assistant')
    expect(absentMessage).not.toHaveProperty('content')
    expect(deltas(absentStream)).toEqual([{ role: 'assistant', refusal: null }, {}])
    expect(absentStream.at(-1)).toBe('[DONE]')
  })

  it('drips a completion one byte at a time, and the SDK timeout does not cover the dripped body', async () => {
    stub.misbehaveNext({ kind: 'drip', intervalMs: 2 })
    stub.misbehaveNext({ kind: 'drip', intervalMs: 3 })

    const started = Date.now()
    const res = await postChat({})
    const headersAfter = Date.now() - started
    const reader = res.body!.getReader()
    let reads = 0
    let bytes = 0
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      reads += 1
      bytes += r.value.length
    }
    const elapsed = Date.now() - started
    // 200 ms is far below the ~1.5 s the dripped body takes to arrive.
    const slowStarted = Date.now()
    const completion = await sdk({ timeout: 200 }).chat.completions.create({
      model: 'm',
      messages: ask('hi'),
    })

    expect(headersAfter).toBeLessThan(elapsed / 2)
    expect(reads).toBeGreaterThan(bytes / 4)
    expect(elapsed).toBeGreaterThanOrEqual((bytes - 1) * 2)
    expect(Date.now() - slowStarted).toBeGreaterThan(400)
    expect(completion.choices[0]?.message.content).toBe('Echo: hi [1]')
  })

  it('stops dripping when the client gives up, and counts the request as aborted', async () => {
    stub.misbehaveNext({ kind: 'drip' })

    const reader = (await postChat({})).body!.getReader()
    const first = await reader.read()
    await reader.cancel()
    await waitFor(() => stub.activeRequests() === 0)

    expect(first.value).toHaveLength(1)
    expect(stub.abortedRequests()).toBe(1)
  })

  it('drips one chunk of a stream slowly and sends the rest at once', async () => {
    stub.misbehaveNext({ kind: 'drip', intervalMs: 4, afterChunks: 1 })
    const arrivals: number[] = []
    const texts: string[] = []

    for await (const chunk of await sdk().chat.completions.create({
      model: 'gpt-4o-mini',
      messages: ask('alpha beta'),
      stream: true,
    })) {
      arrivals.push(Date.now())
      texts.push(chunk.choices[0]?.delta.content ?? '')
    }
    const gaps = arrivals.slice(1).map((t, i) => t - (arrivals[i] ?? t))

    expect(texts.join('')).toBe('Echo: alpha beta [1]')
    // The second content chunk (after the role chunk and "Echo:") is ~200 bytes at 4 ms a byte.
    expect(gaps[1]).toBeGreaterThan(400)
    expect(gaps.filter((g) => g > 100)).toHaveLength(1)
  })

  it('ends a stream cleanly after some chunks, with no finish chunk and no [DONE]', async () => {
    stub.misbehaveNext({ kind: 'truncated', times: 2 })

    const res = await postChat({ stream: true })
    const data = sseData(await res.text())
    const { chunks, text } = await sdkStream('gpt-4o-mini', 'one two three four')

    expect(res.status).toBe(200)
    expect(data).not.toContain('[DONE]')
    expect(data.map((d) => JSON.parse(d).choices[0].delta.content)).toEqual(['', 'Echo:', ' hello'])
    expect(text).toBe('Echo: one')
    expect(chunks.every((c) => c.choices[0]?.finish_reason === null)).toBe(true)
  })

  it('cuts a completion body short of its Content-Length, which the SDK reports as an error', async () => {
    stub.misbehaveNext({ kind: 'truncated', stream: false })

    await expect(sdk().chat.completions.create({ model: 'm', messages: ask('hi') })).rejects.toThrow(
      /terminated/,
    )
    await expect(sdk().chat.completions.create({ model: 'm', messages: ask('hi') })).resolves.toBeDefined()
  })

  it('misbehaves only for the named model, the chosen stream mode and the given number of calls', async () => {
    stub.misbehaveNext({ kind: 'empty-choices', model: 'gpt-4o', times: 2 })
    stub.misbehaveNext({ kind: 'null-content', stream: true })
    const client = sdk()

    const other = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: ask('hi') })
    const first = await client.chat.completions.create({ model: 'gpt-4o', messages: ask('hi') })
    const second = await client.chat.completions.create({ model: 'gpt-4o', messages: ask('hi') })
    const third = await client.chat.completions.create({ model: 'gpt-4o', messages: ask('hi') })
    const streamed = await sdkStream('gpt-4o-mini', 'hi')

    expect(other.choices).toHaveLength(1)
    expect([first.choices, second.choices]).toEqual([[], []])
    expect(third.choices[0]?.message.content).toBe('Echo: hi [1]')
    expect(streamed.text).toBe('')
    expect((await sdkStream('gpt-4o-mini', 'hi')).text).toBe('Echo: hi [1]')
  })

  it('is cleared by reset()', async () => {
    const kinds: MisbehaviourKind[] = ['html', 'drip', 'truncated']
    for (const kind of kinds) stub.misbehaveNext({ kind })
    stub.reset()

    expect(
      (await sdk().chat.completions.create({ model: 'm', messages: ask('hi') })).choices[0]?.message.content,
    ).toBe('Echo: hi [1]')
  })
})

describe('default replies per model (distinctReplies)', () => {
  it('answers the same request to different models differently, and identically when repeated', async () => {
    stub.setOptions({ distinctReplies: true })
    const client = sdk()
    const reply = async (model: string, content: string) =>
      (await client.chat.completions.create({ model, messages: ask(content) })).choices[0]?.message.content

    const mini = await reply('gpt-4o-mini', 'Describe the tent')
    const large = await reply('gpt-4o', 'Describe the tent')
    const tuned = await reply('ft:gpt-4o-mini:acme:copy:abc123', 'Describe the tent')

    expect(new Set([mini, large, tuned]).size).toBe(3)
    expect(await reply('gpt-4o-mini', 'Describe the tent')).toBe(mini)
    expect(await reply('gpt-4o-mini', 'Describe the boots')).not.toBe(mini)
    expect(mini).toMatch(/^Here is a \w+ take on "Describe the tent": .* \[1\]\.$/)
    expect(tuned).not.toMatch(/^Here is/)
    expect(tuned).toMatch(/: Describe the tent \[1\]\.$/)
    expect(mini).toBe(distinctReply('gpt-4o-mini', [{ role: 'user', content: 'Describe the tent' }]))
  })

  it('depends on the system prompt too, so prompt variants on one model differ', async () => {
    stub.setOptions({ distinctReplies: true })
    const withSystem = (system: string) =>
      sdk().chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [
          { role: 'system', content: system },
          { role: 'user', content: 'Describe the tent' },
        ],
      })

    const a = (await withSystem('Be brief.')).choices[0]?.message.content
    const b = (await withSystem('Be playful.')).choices[0]?.message.content

    expect(a).not.toBe(b)
  })

  it('streams the same text it answers without streaming', async () => {
    stub.setOptions({ distinctReplies: true })

    const whole = await sdk().chat.completions.create({ model: 'gpt-4o', messages: ask('Describe the tent') })
    const { text } = await sdkStream('gpt-4o', 'Describe the tent')

    expect(text).toBe(whole.choices[0]?.message.content)
  })

  it('still prefers a scripted reply', async () => {
    stub.setOptions({ distinctReplies: true })
    stub.setReply('gpt-4o', 'Scripted.')

    expect(
      (await sdk().chat.completions.create({ model: 'gpt-4o', messages: ask('x') })).choices[0]?.message
        .content,
    ).toBe('Scripted.')
  })
})

describe('JSON mode', () => {
  const schema = {
    type: 'object',
    additionalProperties: false,
    required: ['headline', 'tone', 'score', 'rating', 'approved', 'bullets', 'author'],
    properties: {
      headline: { type: 'string', minLength: 12, maxLength: 40 },
      tone: { type: 'string', enum: ['warm', 'formal', 'playful'] },
      score: { type: 'number', minimum: 0.5, maximum: 1 },
      rating: { type: 'integer', minimum: 1, maximum: 5 },
      approved: { type: 'boolean' },
      bullets: { type: 'array', items: { type: 'string' }, minItems: 3, maxItems: 5 },
      author: { $ref: '#/$defs/person' },
    },
    $defs: {
      person: {
        type: 'object',
        required: ['name', 'email'],
        properties: { name: { type: 'string' }, email: { type: 'string', format: 'email' } },
      },
    },
  }

  /** Checks the parts of the schema above that the stub promises to honour. */
  function expectConforming(value: any): void {
    expect(Object.keys(value).sort()).toEqual([...schema.required].sort())
    expect(value.headline.length).toBeGreaterThanOrEqual(12)
    expect(value.headline.length).toBeLessThanOrEqual(40)
    expect(['warm', 'formal', 'playful']).toContain(value.tone)
    expect(value.score).toBeGreaterThanOrEqual(0.5)
    expect(value.score).toBeLessThanOrEqual(1)
    expect(Number.isInteger(value.rating) && value.rating >= 1 && value.rating <= 5).toBe(true)
    expect(typeof value.approved).toBe('boolean')
    expect(value.bullets.length).toBeGreaterThanOrEqual(3)
    expect(value.bullets.length).toBeLessThanOrEqual(5)
    expect(value.bullets.every((b: unknown) => typeof b === 'string')).toBe(true)
    expect(value.author).toEqual({ name: expect.any(String), email: 'stub@example.com' })
  }

  const jsonSchemaRequest = (model: string) =>
    sdk().chat.completions.create({
      model,
      messages: ask('Write a headline'),
      response_format: { type: 'json_schema', json_schema: { name: 'copy', strict: true, schema } },
    })

  it('answers an object that conforms to a json_schema with bounds, enums, arrays and $refs', async () => {
    const placeholder = JSON.parse((await jsonSchemaRequest('gpt-4o-mini')).choices[0]?.message.content ?? '')

    expectConforming(placeholder)
    expect(placeholder.tone).toBe('warm')
  })

  it('draws the values from the model and request when replies are distinct', async () => {
    stub.setOptions({ distinctReplies: true })
    const models = ['gpt-4o-mini', 'gpt-4o', 'ft:gpt-4o-mini:acme::x1', 'gpt-4.1', 'gpt-4.1-mini']

    const values = []
    for (const model of models) {
      values.push(JSON.parse((await jsonSchemaRequest(model)).choices[0]?.message.content ?? ''))
    }

    for (const value of values) expectConforming(value)
    expect(new Set(values.map((v) => JSON.stringify(v))).size).toBe(models.length)
    expect(JSON.parse((await jsonSchemaRequest('gpt-4o')).choices[0]?.message.content ?? '')).toEqual(
      values[1],
    )
  })

  it('answers a JSON object for json_object, in both reply styles', async () => {
    const request = () =>
      sdk().chat.completions.create({
        model: 'gpt-4o',
        messages: ask('Reply in JSON'),
        response_format: { type: 'json_object' },
      })

    const echo = JSON.parse((await request()).choices[0]?.message.content ?? '')
    stub.setOptions({ distinctReplies: true })
    const distinct = JSON.parse((await request()).choices[0]?.message.content ?? '')

    expect(echo).toEqual({ reply: 'Echo: Reply in JSON [1]' })
    expect(distinct).toEqual({ reply: distinctReply('gpt-4o', [{ role: 'user', content: 'Reply in JSON' }]) })
  })
})

describe('judges (setJudge)', () => {
  it('answers with the verdict of a function of the system prompt and the last user message', async () => {
    stub.setJudge('judge-model', ({ system, user, model }) => ({
      model,
      score: user.includes('[1]') ? 5 : 1,
      strict: system.includes('strict'),
    }))
    const judge = (candidate: string) =>
      sdk().chat.completions.create({
        model: 'judge-model',
        messages: [
          { role: 'system', content: 'You are a strict judge. Answer JSON.' },
          { role: 'user', content: 'Reference: a tent.' },
          { role: 'assistant', content: 'Noted.' },
          { role: 'user', content: `Candidate: ${candidate}` },
        ],
      })

    const cited = JSON.parse((await judge('A tent for two [1].')).choices[0]?.message.content ?? '')
    const uncited = JSON.parse((await judge('A tent for two.')).choices[0]?.message.content ?? '')

    expect(cited).toEqual({ model: 'judge-model', score: 5, strict: true })
    expect(uncited.score).toBe(1)
  })

  it('sends a string verdict verbatim, also when streaming through ChatOpenAI', async () => {
    stub.setJudge('gpt-4o', ({ messages }) => `score=${messages.length}`)
    const chunks: AIMessageChunk[] = []
    for await (const chunk of await chat({ model: 'gpt-4o' }).stream('rate this')) chunks.push(chunk)

    expect(chunks.map(textOf).join('')).toBe('score=1')
  })

  it('gives the default reply back after clearReply', async () => {
    stub.setJudge('gpt-4o', () => 3)
    const first = await chat({ model: 'gpt-4o' }).invoke('rate')
    stub.clearReply('gpt-4o')
    const second = await chat({ model: 'gpt-4o' }).invoke('rate')

    expect(first.content).toBe('3')
    expect(second.content).toBe('Echo: rate [1]')
  })
})

describe('per-model latency and outages', () => {
  it('delays one model by its own latency while the others answer at the default', async () => {
    stub.setModelLatency('slow-model', 300)
    const timed = async (model: string) => {
      const started = Date.now()
      await sdk().chat.completions.create({ model, messages: ask('hi') })
      return Date.now() - started
    }

    const slow = await timed('slow-model')
    const fast = await timed('fast-model')
    stub.setModelLatency('slow-model', null)
    const cleared = await timed('slow-model')

    expect(slow).toBeGreaterThanOrEqual(290)
    expect(fast).toBeLessThan(slow)
    expect(cleared).toBeLessThan(slow)
  })

  it('fails every call to a model that is down with its status until it is up again', async () => {
    stub.setModelDown('gpt-4o', 503)
    const client = sdk()

    const errors = await Promise.all(
      [1, 2, 3].map(() =>
        rejection(client.chat.completions.create({ model: 'gpt-4o', messages: ask('hi') })),
      ),
    )
    const embedding = await rejection(client.embeddings.create({ model: 'gpt-4o', input: 'x' }))
    const other = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: ask('hi') })
    stub.setModelUp('gpt-4o')
    const back = await client.chat.completions.create({ model: 'gpt-4o', messages: ask('hi') })

    for (const error of [...errors, embedding]) {
      expect(error).toBeInstanceOf(APIError)
      expect((error as APIError).status).toBe(503)
      expect((error as APIError).type).toBe('server_error')
    }
    expect(other.choices[0]?.message.content).toBe('Echo: hi [1]')
    expect(back.choices[0]?.message.content).toBe('Echo: hi [1]')
    expect(stub.chatCalls()).toBe(5)
  })

  it('does not use up queued faults meant for other calls while a model is down', async () => {
    stub.setModelDown('gpt-4o', 500)
    stub.failNext({ path: 'chat', status: 429 })

    await expect(
      sdk().chat.completions.create({ model: 'gpt-4o', messages: ask('hi') }),
    ).rejects.toMatchObject({
      status: 500,
    })
    await expect(
      sdk().chat.completions.create({ model: 'gpt-4o-mini', messages: ask('hi') }),
    ).rejects.toMatchObject({
      status: 429,
    })
  })

  it('drops or hangs every call to a model that is down that way', async () => {
    stub.setModelDown('dropper', 'drop')
    stub.setModelDown('hanger', 'hang')

    const dropped = await rejection(sdk().chat.completions.create({ model: 'dropper', messages: ask('hi') }))
    const hung = await rejection(
      sdk({ timeout: 200 }).chat.completions.create({ model: 'hanger', messages: ask('hi') }),
    )

    expect(dropped).toBeInstanceOf(APIConnectionError)
    expect(String(hung)).toMatch(/timed out/i)
    await waitFor(() => stub.activeRequests() === 0)
  })
})

/** A chat fine-tuning file with `count` valid examples. */
function chatExamples(count: number): string {
  return Array.from({ length: count }, (_, i) =>
    JSON.stringify({
      messages: [
        { role: 'system', content: 'You write product copy.' },
        { role: 'user', content: `Describe product ${i}` },
        { role: 'assistant', content: `Product ${i}: light, tough and ready for the trail.` },
      ],
    }),
  ).join('\n')
}

/** A preference (DPO) fine-tuning file with `count` valid examples. */
function preferenceExamples(count: number): string {
  return Array.from({ length: count }, (_, i) =>
    JSON.stringify({
      input: { messages: [{ role: 'user', content: `Describe product ${i}` }] },
      preferred_output: [{ role: 'assistant', content: `Product ${i}, warm and clear.` }],
      non_preferred_output: [{ role: 'assistant', content: `PRODUCT ${i}!!! BUY NOW` }],
    }),
  ).join('\n')
}

async function upload(
  content: string,
  filename = 'train.jsonl',
  purpose: 'fine-tune' | 'batch' = 'fine-tune',
) {
  return sdk().files.create({ file: await toFile(Buffer.from(content), filename), purpose })
}

async function apiError(promise: Promise<unknown>): Promise<APIError> {
  const error = await rejection(promise)
  expect(error).toBeInstanceOf(APIError)
  return error as APIError
}

describe('files API', () => {
  it('stores an upload and serves its object, its content and a list, through the SDK', async () => {
    const client = sdk()
    const created = await upload(chatExamples(2))
    const other = await upload('{"custom_id":"1"}\n', 'batch.jsonl', 'batch')

    const retrieved = await client.files.retrieve(created.id)
    const content = await (await client.files.content(created.id)).text()
    const all = await client.files.list()
    const fineTune = await client.files.list({ purpose: 'fine-tune' })
    const oldestFirst = await client.files.list({ order: 'asc' })

    expect(created).toEqual({
      id: expect.stringMatching(/^file-[A-Za-z0-9]{22}$/),
      object: 'file',
      bytes: Buffer.byteLength(chatExamples(2)),
      created_at: expect.any(Number),
      filename: 'train.jsonl',
      purpose: 'fine-tune',
      status: 'processed',
    })
    expect(retrieved).toEqual(created)
    expect(content).toBe(chatExamples(2))
    expect(all.data.map((f) => f.id)).toEqual([other.id, created.id])
    expect(fineTune.data.map((f) => f.id)).toEqual([created.id])
    expect(oldestFirst.data.map((f) => f.id)).toEqual([created.id, other.id])
    expect(stub.uploadedFiles().map((f) => [f.id, f.content])).toEqual([
      [created.id, chatExamples(2)],
      [other.id, '{"custom_id":"1"}\n'],
    ])
  })

  it('pages the list with limit and after', async () => {
    const ids = []
    for (let i = 0; i < 5; i++) ids.push((await upload(`{"i":${i}}`, `f${i}.jsonl`, 'batch')).id)

    const first = await sdk().files.list({ limit: 2 })
    const paged = []
    for await (const file of sdk().files.list({ limit: 2 })) paged.push(file.id)

    expect(first.data.map((f) => f.id)).toEqual([ids[4], ids[3]])
    expect(first.has_more).toBe(true)
    expect(paged).toEqual([...ids].reverse())
  })

  it('deletes a file, after which it is 404 in the OpenAI error shape', async () => {
    const { id } = await upload(chatExamples(1))

    const deleted = await sdk().files.delete(id)
    const res = await fetch(`${stub.url}/files/${id}`)

    expect(deleted).toEqual({ id, object: 'file', deleted: true })
    expect(res.status).toBe(404)
    expect(await res.json()).toEqual({
      error: {
        message: `No such File object: ${id}`,
        type: 'invalid_request_error',
        param: 'id',
        code: null,
      },
    })
    expect((await apiError(sdk().files.content(id))).status).toBe(404)
    expect((await apiError(sdk().files.delete(id))).status).toBe(404)
  })

  it('refuses uploads without a purpose or file, with an unknown purpose, or not .jsonl for fine-tuning', async () => {
    const form = (fields: Record<string, string>, file?: [string, string]) => {
      const body = new FormData()
      for (const [k, v] of Object.entries(fields)) body.append(k, v)
      if (file) body.append('file', new Blob([file[1]]), file[0])
      return fetch(`${stub.url}/files`, { method: 'POST', body })
    }
    const answers = await Promise.all([
      form({}, ['a.jsonl', '{}']),
      form({ purpose: 'fine-tune' }),
      form({ purpose: 'training' }, ['a.jsonl', '{}']),
      form({ purpose: 'fine-tune' }, ['a.csv', 'a,b']),
      form({ purpose: 'fine-tune' }, ['a.jsonl', '']),
      fetch(`${stub.url}/files`, { method: 'POST', body: '{"purpose":"fine-tune"}' }),
    ])
    const bodies = await Promise.all(answers.map((r) => r.json() as Promise<{ error: { param: string } }>))

    expect(answers.map((r) => r.status)).toEqual([400, 400, 400, 400, 400, 400])
    expect(bodies.slice(0, 5).map((b) => b.error.param)).toEqual([
      'purpose',
      'file',
      'purpose',
      'file',
      'file',
    ])
    expect(stub.uploadedFiles()).toEqual([])
  })

  it('records an upload in calls as its fields and file summary, and counts it', async () => {
    await upload(chatExamples(1))

    expect(stub.calls[0]?.body).toEqual({
      purpose: 'fine-tune',
      file: { filename: 'train.jsonl', bytes: Buffer.byteLength(chatExamples(1)), type: expect.any(String) },
    })
    expect(stub.callCount('files')).toBe(1)
    expect(stub.chatCalls()).toBe(0)
  })
})

describe('files API without recorded calls', () => {
  it('still stores uploads and counts them', async () => {
    const quiet = await startOpenAIStub({ recordCalls: false })
    try {
      const client = new OpenAI({ apiKey: 'test', baseURL: quiet.url, maxRetries: 0 })
      const file = await client.files.create({
        file: await toFile(Buffer.from('{}'), 'a.jsonl'),
        purpose: 'batch',
      })

      expect(quiet.calls).toEqual([])
      expect(quiet.callCount('files')).toBe(1)
      expect(quiet.uploadedFiles().map((f) => f.id)).toEqual([file.id])
    } finally {
      await quiet.close()
    }
  })
})

describe('fine-tuning jobs API', () => {
  it('moves a job from validating_files to succeeded, one status per retrieve', async () => {
    const client = sdk()
    const file = await upload(chatExamples(12))

    const created = await client.fineTuning.jobs.create({
      model: 'gpt-4o-mini',
      training_file: file.id,
      suffix: 'brand',
    })
    const statuses = [created.status]
    for (let i = 0; i < 4; i++) statuses.push((await client.fineTuning.jobs.retrieve(created.id)).status)
    const done = await client.fineTuning.jobs.retrieve(created.id)

    expect(statuses).toEqual(['validating_files', 'queued', 'running', 'succeeded', 'succeeded'])
    expect(created).toMatchObject({
      object: 'fine_tuning.job',
      id: expect.stringMatching(/^ftjob-[A-Za-z0-9]{24}$/),
      model: 'gpt-4o-mini',
      training_file: file.id,
      validation_file: null,
      fine_tuned_model: null,
      finished_at: null,
      trained_tokens: null,
      error: null,
      hyperparameters: { n_epochs: 'auto', batch_size: 'auto', learning_rate_multiplier: 'auto' },
      method: { type: 'supervised' },
    })
    expect(done).toMatchObject({
      status: 'succeeded',
      fine_tuned_model: expect.stringMatching(/^ft:gpt-4o-mini:onbrand-stub:brand:[A-Za-z0-9]{8}$/),
      finished_at: expect.any(Number),
      hyperparameters: { n_epochs: 3, batch_size: 1, learning_rate_multiplier: 1.8 },
      error: null,
    })
    // Each example is about 25 tokens; three epochs.
    expect(done.trained_tokens).toBeGreaterThan(12 * 3 * 20)
    expect(done.result_files).toHaveLength(1)
    const results = await (await client.files.content(done.result_files[0] ?? '')).text()
    expect(results.split('\n')[0]).toBe('step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy')
    expect(results.trim().split('\n')).toHaveLength(1 + 36)
  })

  it('names the fine-tuned model with an empty suffix segment when no suffix is given, like OpenAI', async () => {
    const file = await upload(chatExamples(10))
    const { id } = await sdk().fineTuning.jobs.create({ model: 'gpt-4.1-mini', training_file: file.id })

    const [job] = stub.advanceFineTune(id, Number.POSITIVE_INFINITY)

    expect(job?.fine_tuned_model).toMatch(/^ft:gpt-4\.1-mini:onbrand-stub::[A-Za-z0-9]{8}$/)
  })

  it('lists events newest first and pages them with after and limit', async () => {
    const client = sdk()
    const file = await upload(chatExamples(10))
    const { id } = await client.fineTuning.jobs.create({
      model: 'gpt-4o-mini',
      training_file: file.id,
      hyperparameters: { n_epochs: 2 },
    })
    stub.advanceFineTune(id, 3)

    const firstPage = await client.fineTuning.jobs.listEvents(id, { limit: 3 })
    const all = []
    for await (const event of client.fineTuning.jobs.listEvents(id, { limit: 3 })) all.push(event)
    const metrics = all.filter((e) => e.type === 'metrics')

    expect(firstPage.data).toHaveLength(3)
    expect(firstPage.has_more).toBe(true)
    expect(all.slice(0, 3)).toEqual(firstPage.data)
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length)
    expect(all.at(-1)?.message).toBe(`Created fine-tuning job: ${id}`)
    expect(all[0]?.message).toBe('The job has successfully completed')
    expect(all.map((e) => e.message)).toEqual(
      expect.arrayContaining(['Files validated, moving job to queued state', 'Fine-tuning job started']),
    )
    expect(all.every((e) => e.object === 'fine_tuning.job.event' && e.level === 'info')).toBe(true)
    // 10 examples, batch size 1, 2 epochs: 20 steps, newest first.
    expect(metrics.map((e) => (e.data as { step: number }).step)).toEqual(
      Array.from({ length: 20 }, (_, i) => 20 - i),
    )
  })

  it('lists checkpoints of the last epochs with losses that fall as steps rise', async () => {
    const client = sdk()
    const train = await upload(chatExamples(10))
    const valid = await upload(chatExamples(3), 'valid.jsonl')
    const { id } = await client.fineTuning.jobs.create({
      model: 'gpt-4o-mini',
      training_file: train.id,
      validation_file: valid.id,
      method: { type: 'supervised', supervised: { hyperparameters: { n_epochs: 4, batch_size: 2 } } },
    })
    const [job] = stub.advanceFineTune(id, 3)

    const checkpoints = (await client.fineTuning.jobs.checkpoints.list(id)).data
    const limited = await client.fineTuning.jobs.checkpoints.list(id, { limit: 1 })

    expect(checkpoints.map((c) => c.step_number)).toEqual([20, 15, 10])
    expect(checkpoints[0]).toMatchObject({
      object: 'fine_tuning.job.checkpoint',
      id: expect.stringMatching(/^ftckpt_[A-Za-z0-9]{24}$/),
      fine_tuning_job_id: id,
      fine_tuned_model_checkpoint: `${job?.fine_tuned_model}:ckpt-step-20`,
    })
    const losses = checkpoints.map((c) => c.metrics.train_loss ?? Number.NaN)
    const validLosses = checkpoints.map((c) => c.metrics.valid_loss ?? Number.NaN)
    expect(losses[0]).toBeLessThan(losses[1] ?? 0)
    expect(losses[1]).toBeLessThan(losses[2] ?? 0)
    expect(validLosses[0]).toBeLessThan(validLosses[1] ?? 0)
    expect(checkpoints.every((c) => c.metrics.full_valid_loss === c.metrics.valid_loss)).toBe(true)
    expect(limited.data).toEqual(checkpoints.slice(0, 1))
    expect(limited.has_more).toBe(true)
  })

  it('serves the fine-tuned model for chat only once its job has succeeded, with its own replies', async () => {
    stub.setOptions({ distinctReplies: true })
    const client = sdk()
    const file = await upload(chatExamples(10))
    const { id } = await client.fineTuning.jobs.create({
      model: 'gpt-4o-mini',
      training_file: file.id,
      suffix: 'copy',
    })
    const [running] = stub.advanceFineTune(id, 2)
    const expectedModel = `ft:gpt-4o-mini:onbrand-stub:copy:`

    const early = await apiError(
      client.chat.completions.create({
        model: `${expectedModel}nope1234`,
        messages: ask('Describe the tent'),
      }),
    )
    const [done] = stub.advanceFineTune(id)
    const model = done?.fine_tuned_model ?? ''
    const tuned = await client.chat.completions.create({ model, messages: ask('Describe the tent') })
    const base = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: ask('Describe the tent'),
    })
    const checkpoint =
      (await client.fineTuning.jobs.checkpoints.list(id)).data[0]?.fine_tuned_model_checkpoint ?? ''

    expect(running?.status).toBe('running')
    expect(early.status).toBe(404)
    expect(early.code).toBe('model_not_found')
    expect(model.startsWith(expectedModel)).toBe(true)
    expect(tuned.model).toBe(model)
    expect(tuned.choices[0]?.message.content).toBe(
      distinctReply(model, [{ role: 'user', content: 'Describe the tent' }]),
    )
    expect(tuned.choices[0]?.message.content).not.toBe(base.choices[0]?.message.content)
    await expect(
      client.chat.completions.create({ model: checkpoint, messages: ask('hi') }),
    ).resolves.toBeDefined()
  })

  it('fails a job whose training file has a bad line, naming the line in the error and the events', async () => {
    const client = sdk()
    const lines = chatExamples(12).split('\n')
    lines[2] = JSON.stringify({ messages: [{ role: 'user', content: 'no answer here' }] })
    const file = await upload(lines.join('\n'))
    const { id } = await client.fineTuning.jobs.create({ model: 'gpt-4o-mini', training_file: file.id })

    const failed = await client.fineTuning.jobs.retrieve(id)
    const events = (await client.fineTuning.jobs.listEvents(id)).data

    expect(failed.status).toBe('failed')
    expect(failed.error).toEqual({
      code: 'invalid_training_file',
      param: 'training_file',
      message: expect.stringContaining('Line 3'),
    })
    expect(failed.error?.message).toMatch(/assistant/)
    expect(failed.fine_tuned_model).toBeNull()
    expect(failed.finished_at).toEqual(expect.any(Number))
    expect(events[0]).toMatchObject({ level: 'error', message: failed.error?.message })
    expect((await client.fineTuning.jobs.retrieve(id)).status).toBe('failed')
  })

  it.each([
    ['a line that is not JSON', (l: string[]) => l.with(4, '{"messages": ['), /Line 5 is not valid JSON/],
    [
      'a line without messages',
      (l: string[]) => l.with(0, '{"prompt":"x","completion":"y"}'),
      /Line 1.*"messages"/,
    ],
    [
      'a message with an unknown role',
      (l: string[]) => l.with(1, JSON.stringify({ messages: [{ role: 'robot', content: 'x' }] })),
      /Line 2, "messages", message 1: invalid role "robot"/,
    ],
    ['too few examples', (l: string[]) => l.slice(0, 9), /9 example\(s\), but needs at least 10/],
  ])('fails a job whose training file has %s', async (_, edit, message) => {
    const file = await upload(edit(chatExamples(10).split('\n')).join('\n'))
    const { id } = await sdk().fineTuning.jobs.create({ model: 'gpt-4o-mini', training_file: file.id })

    const [job] = stub.advanceFineTune(id)

    expect(job?.status).toBe('failed')
    expect(job?.error?.message).toMatch(message)
  })

  it('checks a validation file too, and honours a lower minTrainingExamples', async () => {
    stub.setOptions({ minTrainingExamples: 2 })
    const train = await upload(chatExamples(2))
    const valid = await upload('{"messages": []}', 'valid.jsonl')
    const { id } = await sdk().fineTuning.jobs.create({
      model: 'gpt-4o-mini',
      training_file: train.id,
      validation_file: valid.id,
    })

    const [job] = stub.advanceFineTune(id)

    expect(job?.error).toMatchObject({ code: 'invalid_validation_file', param: 'validation_file' })
    expect(job?.error?.message).toMatch(/Line 1, "messages" must be a non-empty array/)
  })

  it('trains DPO jobs on preference files and rejects chat files for them', async () => {
    const client = sdk()
    const preferences = await upload(preferenceExamples(10))
    const chatFile = await upload(chatExamples(10))
    const dpo = { type: 'dpo' as const, dpo: { hyperparameters: { beta: 0.2 } } }

    const good = await client.fineTuning.jobs.create({
      model: 'gpt-4o-mini',
      training_file: preferences.id,
      method: dpo,
    })
    const bad = await client.fineTuning.jobs.create({
      model: 'gpt-4o-mini',
      training_file: chatFile.id,
      method: dpo,
    })
    const [goodDone, badDone] = [stub.advanceFineTune(good.id, 3)[0], stub.advanceFineTune(bad.id, 3)[0]]

    expect(good.method).toMatchObject({
      type: 'dpo',
      dpo: { hyperparameters: { beta: 0.2, n_epochs: 'auto' } },
    })
    expect(goodDone?.status).toBe('succeeded')
    expect(goodDone?.method).toMatchObject({ dpo: { hyperparameters: { beta: 0.2, n_epochs: 3 } } })
    expect(badDone?.status).toBe('failed')
    expect(badDone?.error?.message).toMatch(/Line 1, "input.messages" must be a non-empty array/)
  })

  it('cancels an unfinished job and refuses to cancel a finished one', async () => {
    const client = sdk()
    const file = await upload(chatExamples(10))
    const first = await client.fineTuning.jobs.create({ model: 'gpt-4o-mini', training_file: file.id })
    const second = await client.fineTuning.jobs.create({ model: 'gpt-4o-mini', training_file: file.id })
    stub.advanceFineTune(first.id, 2)
    stub.advanceFineTune(second.id, 3)

    const cancelled = await client.fineTuning.jobs.cancel(first.id)
    const refused = await apiError(client.fineTuning.jobs.cancel(second.id))
    const refusedAgain = await apiError(client.fineTuning.jobs.cancel(first.id))

    expect(cancelled).toMatchObject({ status: 'cancelled', fine_tuned_model: null })
    expect((await client.fineTuning.jobs.retrieve(first.id)).status).toBe('cancelled')
    expect((await client.fineTuning.jobs.listEvents(first.id)).data[0]?.message).toBe(
      'Fine-tuning job cancelled',
    )
    expect([refused.status, refusedAgain.status]).toEqual([400, 400])
    expect(refused.message).toMatch(/already succeeded/)
  })

  it('fails the next job at the chosen status with the injected error, then runs jobs normally', async () => {
    const client = sdk()
    const file = await upload(chatExamples(10))
    stub.failNextFineTune({ code: 'quota_exceeded', message: 'Out of training credits.', atStatus: 'queued' })

    const doomed = await client.fineTuning.jobs.create({ model: 'gpt-4o-mini', training_file: file.id })
    const fine = await client.fineTuning.jobs.create({ model: 'gpt-4o-mini', training_file: file.id })
    const doomedStatuses = [1, 2, 3].map(() => stub.advanceFineTune(doomed.id)[0]?.status)
    const [fineDone] = stub.advanceFineTune(fine.id, 3)
    const [failed] = stub.fineTuneJobs()

    expect(doomedStatuses).toEqual(['queued', 'failed', 'failed'])
    expect(failed?.error).toEqual({
      code: 'quota_exceeded',
      message: 'Out of training credits.',
      param: null,
    })
    expect(fineDone?.status).toBe('succeeded')
  })

  it('fails at running by default, with an internal error', async () => {
    const file = await upload(chatExamples(10))
    stub.failNextFineTune()
    const { id } = await sdk().fineTuning.jobs.create({ model: 'gpt-4o-mini', training_file: file.id })

    const [job] = stub.advanceFineTune(id, 5)

    expect(job?.status).toBe('failed')
    expect(job?.error?.code).toBe('internal_error')
    expect((await sdk().fineTuning.jobs.listEvents(id)).data[1]?.message).toBe('Fine-tuning job started')
  })

  it('moves jobs only through advanceFineTune in manual progress', async () => {
    stub.setOptions({ fineTuneProgress: 'manual' })
    const file = await upload(chatExamples(10))
    const { id } = await sdk().fineTuning.jobs.create({ model: 'gpt-4o-mini', training_file: file.id })

    const polled = [1, 2, 3].map(() => sdk().fineTuning.jobs.retrieve(id))
    const statuses = (await Promise.all(polled)).map((j) => j.status)
    stub.advanceFineTune()
    const afterOneStep = (await sdk().fineTuning.jobs.retrieve(id)).status

    expect(statuses).toEqual(['validating_files', 'validating_files', 'validating_files'])
    expect(afterOneStep).toBe('queued')
  })

  it('moves jobs by the stub clock in timed progress', async () => {
    let clock = 1_700_000_000_000
    const timed = await startOpenAIStub({
      now: () => clock,
      fineTuneProgress: 'timed',
      fineTuneStepMs: 60_000,
    })
    try {
      const client = new OpenAI({ apiKey: 'test', baseURL: timed.url, maxRetries: 0 })
      const file = await client.files.create({
        file: await toFile(Buffer.from(chatExamples(10)), 't.jsonl'),
        purpose: 'fine-tune',
      })
      const { id } = await client.fineTuning.jobs.create({ model: 'gpt-4o-mini', training_file: file.id })
      const status = async () => (await client.fineTuning.jobs.retrieve(id)).status

      const atStart = [await status(), await status()]
      clock += 59_999
      const justBefore = await status()
      clock += 1
      const oneStep = await status()
      clock += 120_000
      const threeSteps = timed.fineTuneJobs()[0]

      expect(atStart).toEqual(['validating_files', 'validating_files'])
      expect(justBefore).toBe('validating_files')
      expect(oneStep).toBe('queued')
      expect(threeSteps?.status).toBe('succeeded')
      expect(threeSteps?.created_at).toBe(1_700_000_000)
      expect(threeSteps?.finished_at).toBe(1_700_000_180)
    } finally {
      await timed.close()
    }
  })

  it('lists jobs newest first, pages them, and filters by metadata', async () => {
    const client = sdk()
    const file = await upload(chatExamples(10))
    const ids = []
    for (const task of ['email', 'tagline', 'email']) {
      ids.push(
        (
          await client.fineTuning.jobs.create({
            model: 'gpt-4o-mini',
            training_file: file.id,
            metadata: { task },
          })
        ).id,
      )
    }

    const page = await client.fineTuning.jobs.list({ limit: 2 })
    const emails = await client.fineTuning.jobs.list({ metadata: { task: 'email' } })

    expect(page.data.map((j) => j.id)).toEqual([ids[2], ids[1]])
    expect(page.has_more).toBe(true)
    expect(emails.data.map((j) => j.id)).toEqual([ids[2], ids[0]])
    expect(stub.fineTuneJobs().map((j) => j.id)).toEqual(ids)
  })

  it('refuses bad create requests with 400 and unknown jobs with 404, in the OpenAI error shape', async () => {
    const client = sdk()
    const file = await upload(chatExamples(10))
    const batch = await upload('{}', 'b.jsonl', 'batch')
    const create = (body: Record<string, unknown>) =>
      apiError(
        client.fineTuning.jobs.create({ model: 'gpt-4o-mini', training_file: file.id, ...body } as never),
      )

    const errors = [
      await create({ training_file: 'file-missing' }),
      await create({ training_file: batch.id }),
      await create({ validation_file: 'file-missing' }),
      await create({ model: '' }),
      await create({ suffix: 'x'.repeat(65) }),
      await create({ hyperparameters: { n_epochs: 0 } }),
      await create({
        method: { type: 'supervised', supervised: { hyperparameters: { batch_size: 'big' } } },
      }),
      await create({ method: { type: 'reinforcement' } }),
      await create({ seed: -1 }),
    ]
    const missing = await apiError(client.fineTuning.jobs.retrieve('ftjob-nope'))
    const raw = await fetch(`${stub.url}/fine_tuning/jobs/ftjob-nope/events`)

    expect(errors.map((e) => e.status)).toEqual(Array(9).fill(400))
    expect(errors.map((e) => e.param)).toEqual([
      'training_file',
      'training_file',
      'validation_file',
      'model',
      'suffix',
      'hyperparameters.n_epochs',
      'method.supervised.hyperparameters.batch_size',
      'method.type',
      'seed',
    ])
    expect(missing.status).toBe(404)
    expect(raw.status).toBe(404)
    expect(await raw.json()).toEqual({
      error: {
        message: 'Could not find fine-tuning job: ftjob-nope',
        type: 'invalid_request_error',
        param: 'fine_tuning_job_id',
        code: 'fine_tune_not_found',
      },
    })
    expect(stub.fineTuneJobs()).toEqual([])
  })

  it('counts and records its requests, takes injected HTTP faults, and is cleared by reset()', async () => {
    const file = await upload(chatExamples(10))
    stub.failNext({ path: 'fine_tuning', status: 500 })

    const failed = await apiError(
      sdk().fineTuning.jobs.create({ model: 'gpt-4o-mini', training_file: file.id }),
    )
    await sdk().fineTuning.jobs.create({ model: 'gpt-4o-mini', training_file: file.id })

    expect(failed.status).toBe(500)
    expect(stub.callCount('fine_tuning')).toBe(2)
    expect(
      stub.calls.filter((c) => c.path === '/v1/fine_tuning/jobs').map((c) => c.body.training_file),
    ).toEqual([file.id, file.id])
    stub.reset()
    expect([stub.fineTuneJobs(), stub.uploadedFiles(), stub.callCount('fine_tuning')]).toEqual([[], [], 0])
  })
})

describe('models API', () => {
  it('lists configured and used base models and fine-tuned ones, and retrieves each', async () => {
    const local = await startOpenAIStub({ models: ['gpt-4o'] })
    try {
      const client = new OpenAI({ apiKey: 'test', baseURL: local.url, maxRetries: 0 })
      await client.chat.completions.create({ model: 'gpt-4o-mini', messages: ask('hi') })
      await client.embeddings.create({ model: 'text-embedding-3-small', input: 'hi' })
      const file = await client.files.create({
        file: await toFile(Buffer.from(chatExamples(10)), 't.jsonl'),
        purpose: 'fine-tune',
      })
      const job = await client.fineTuning.jobs.create({ model: 'gpt-4.1-mini', training_file: file.id })
      const tuned = local.advanceFineTune(job.id, 3)[0]?.fine_tuned_model ?? ''

      const listed = []
      for await (const model of client.models.list()) listed.push(model)

      expect(listed.map((m) => m.id)).toEqual([
        'gpt-4o',
        'gpt-4o-mini',
        'text-embedding-3-small',
        'gpt-4.1-mini',
        tuned,
      ])
      expect(listed.at(-1)).toEqual({
        id: tuned,
        object: 'model',
        created: expect.any(Number),
        owned_by: 'onbrand-stub',
      })
      expect(await client.models.retrieve(tuned)).toEqual(listed.at(-1))
      expect((await client.models.retrieve('gpt-4o')).owned_by).toBe('system')
    } finally {
      await local.close()
    }
  })

  it('answers 404 for unknown models, deletes fine-tuned ones, and refuses to delete base models', async () => {
    const client = sdk()
    const file = await upload(chatExamples(10))
    const { id } = await client.fineTuning.jobs.create({ model: 'gpt-4o-mini', training_file: file.id })
    const tuned = stub.advanceFineTune(id, 3)[0]?.fine_tuned_model ?? ''

    const unknown = await apiError(client.models.retrieve('gpt-9'))
    const refused = await apiError(client.models.delete('gpt-4o-mini'))
    const deleted = await client.models.delete(tuned)
    const gone = await apiError(client.chat.completions.create({ model: tuned, messages: ask('hi') }))

    expect([unknown.status, unknown.code]).toEqual([404, 'model_not_found'])
    expect(refused.status).toBe(403)
    expect(deleted).toEqual({ id: tuned, object: 'model', deleted: true })
    expect([gone.status, gone.code]).toEqual([404, 'model_not_found'])
  })
})

describe('the stub CLI', () => {
  it('runs a --scenario module that configures the stub, and answers distinct replies by default', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stub-scenario-'))
    const scenario = join(dir, 'scenario.mjs')
    await writeFile(
      scenario,
      "export async function configure(stub) {\n  stub.setJudge('judge', ({ user }) => ({ score: user.length }))\n}\n",
    )
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/support/openai-stub-cli.ts', '--port', '0', '--scenario', scenario],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    try {
      const url = await new Promise<string>((resolveUrl, rejectUrl) => {
        let out = ''
        child.stdout.on('data', (data: Buffer) => {
          out += data.toString()
          const match = /listening on (\S+)/.exec(out)
          if (match?.[1]) resolveUrl(match[1])
        })
        child.once('exit', (code) => rejectUrl(new Error(`CLI exited with ${code}`)))
      })
      const client = new OpenAI({ apiKey: 'test', baseURL: url, maxRetries: 0 })

      const judged = await client.chat.completions.create({ model: 'judge', messages: ask('four') })
      const plain = await client.chat.completions.create({ model: 'gpt-4o', messages: ask('four') })

      expect(judged.choices[0]?.message.content).toBe('{"score":4}')
      expect(plain.choices[0]?.message.content).toBe(
        distinctReply('gpt-4o', [{ role: 'user', content: 'four' }]),
      )
    } finally {
      child.kill('SIGTERM')
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('refuses a --scenario module without a configure export', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stub-scenario-'))
    const scenario = join(dir, 'scenario.mjs')
    await writeFile(scenario, 'export const nothing = 1\n')
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/support/openai-stub-cli.ts', '--port', '0', '--scenario', scenario],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let stderr = ''
    child.stderr.on('data', (data: Buffer) => {
      stderr += data.toString()
    })

    const code = await new Promise<number | null>((resolveCode) => child.once('exit', resolveCode))
    await rm(dir, { recursive: true, force: true })

    expect(code).toBe(2)
    expect(stderr).toMatch(/must export a function configure\(stub\)/)
  })
})
