import type { AIMessageChunk, UsageMetadata } from '@langchain/core/messages'
import { ChatOpenAI, OpenAIEmbeddings } from '@langchain/openai'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { deterministicEmbedding, type OpenAIStub, startOpenAIStub } from '../support/openai-stub.js'

let stub: OpenAIStub

beforeAll(async () => {
  stub = await startOpenAIStub()
})

afterEach(() => {
  stub.reset()
  stub.setOptions({ latencyMs: 0, tokenDelayMs: 0, embeddingDimensions: 64 })
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
