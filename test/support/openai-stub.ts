/**
 * A small in-process HTTP server that speaks enough of the OpenAI wire format
 * (chat completions + embeddings) for the real `openai` SDK and
 * `@langchain/openai` clients to talk to it. Used by tests and benchmarks
 * because no model provider is reachable from CI.
 *
 * Only node built-ins are used.
 */
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

export interface StubOptions {
  /** Default embedding size; the request's `dimensions` field overrides it. Default 64. */
  embeddingDimensions?: number
  /** Delay before answering chat and embeddings requests. Default 0. */
  latencyMs?: number
  /** Delay between streamed chat chunks. Default 0. */
  tokenDelayMs?: number
  /**
   * When true, replies longer than `max_completion_tokens` / `max_tokens`
   * (approximated as ceil(chars / 4)) are truncated and finish with
   * `finish_reason: "length"`, like the real API. Default false so scripted
   * replies are returned verbatim.
   */
  enforceMaxTokens?: boolean
}

/** Options only meaningful at start-up. */
export interface StartOptions extends StubOptions {
  /** Port to bind on 127.0.0.1. Default 0 (random free port). */
  port?: number
  /**
   * Keep every request in `calls` (default true). Turn off for long benchmark
   * runs; `embeddingCalls()` / `chatCalls()` still count, `calls` and
   * `embeddedInputs()` stay empty.
   */
  recordCalls?: boolean
}

export interface StubCall {
  /** Request path without the query string, e.g. `/v1/embeddings`. */
  path: string
  /** HTTP method, e.g. `POST`. */
  method: string
  /** Parsed JSON body; `{}` when the body was empty or not a JSON object. */
  body: Record<string, unknown>
  headers: Record<string, string | string[] | undefined>
  /** `Date.now()` when the request body had been received. */
  at: number
}

export type StubPath = 'chat' | 'embeddings'

export interface FailNextOptions {
  path?: StubPath
  status: number
  times?: number
  retryAfterSeconds?: number
  /** Response body; objects are JSON-serialised, strings are sent verbatim. Default: OpenAI error shape. */
  body?: unknown
}

export interface OpenAIStub {
  /** Base URL for the OpenAI clients, e.g. `http://127.0.0.1:PORT/v1`. */
  url: string
  /** Every request received, in order. */
  calls: StubCall[]
  embeddingCalls(): number
  chatCalls(): number
  /** All string inputs sent to /embeddings, flattened in request order (token-array inputs are skipped). */
  embeddedInputs(): string[]
  setOptions(o: Partial<StubOptions>): void
  failNext(opts: FailNextOptions): void
  /** Accept the request and never answer (until the client gives up or the stub closes). */
  hangNext(opts: { path?: StubPath; times?: number }): void
  /** Destroy the socket without sending a response. */
  dropNext(opts: { path?: StubPath; times?: number }): void
  /** Assistant text to return for a model id. */
  setReply(model: string, text: string | ((body: Record<string, unknown>) => string)): void
  /** For the next streaming chat request(s): destroy the connection after N content chunks. */
  breakStreamAfter(opts: { chunks: number; times?: number }): void
  /** Requests received whose response has not finished yet. */
  activeRequests(): number
  /** Requests whose client closed the connection before the response finished. */
  abortedRequests(): number
  /** Clears calls, queued behaviours, scripted replies and the aborted counter (options are kept). */
  reset(): void
  close(): Promise<void>
}

// ---------------------------------------------------------------------------
// Deterministic, "semantic enough" embeddings (feature hashing bag of words)
// ---------------------------------------------------------------------------

const STOPWORDS = new Set([
  'a',
  'an',
  'and',
  'are',
  'as',
  'at',
  'be',
  'been',
  'but',
  'by',
  'can',
  'do',
  'does',
  'for',
  'from',
  'had',
  'has',
  'have',
  'he',
  'her',
  'his',
  'how',
  'i',
  'if',
  'in',
  'into',
  'is',
  'it',
  'its',
  'me',
  'my',
  'not',
  'of',
  'on',
  'or',
  'our',
  'she',
  'so',
  'than',
  'that',
  'the',
  'their',
  'them',
  'then',
  'there',
  'these',
  'they',
  'this',
  'those',
  'to',
  'was',
  'we',
  'were',
  'what',
  'when',
  'where',
  'which',
  'who',
  'why',
  'will',
  'with',
  'would',
  'you',
  'your',
])

const TOKEN_WEIGHT = 1
/** Total weight of a token's trigrams (spread over them), lower than the token itself. */
const TRIGRAM_WEIGHT = 0.8

function fnv1a(text: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  // murmur3 fmix32 finaliser: FNV-1a's low bits mix poorly, and buckets use them.
  hash ^= hash >>> 16
  hash = Math.imul(hash, 0x85ebca6b)
  hash ^= hash >>> 13
  hash = Math.imul(hash, 0xc2b2ae35)
  hash ^= hash >>> 16
  return hash >>> 0
}

/** "runn" -> "run", "stopp" -> "stop" (but keep "fall", "pass", "buzz"). */
function undouble(stemmed: string): string {
  const last = stemmed.at(-1)
  if (
    stemmed.length > 2 &&
    last === stemmed.at(-2) &&
    last !== undefined &&
    !'lsz'.includes(last) &&
    !'aeiou'.includes(last)
  ) {
    return stemmed.slice(0, -1)
  }
  return stemmed
}

function stem(token: string): string {
  if (token.length > 5 && token.endsWith('ing')) return undouble(token.slice(0, -3))
  if (token.length > 4 && token.endsWith('ed')) return undouble(token.slice(0, -2))
  if (token.length > 3 && token.endsWith('s') && !token.endsWith('ss')) return token.slice(0, -1)
  return token
}

/** Lowercased, stopword-free, crudely stemmed word tokens. */
export function embeddingTokens(text: string): string[] {
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []
  const out: string[] = []
  for (const word of words) {
    if (STOPWORDS.has(word)) continue
    out.push(stem(word))
  }
  return out
}

function addFeature(vector: number[], feature: string, weight: number): void {
  const hash = fnv1a(feature)
  const bucket = hash % vector.length
  const sign = hash >>> 31 === 0 ? 1 : -1
  vector[bucket] = (vector[bucket] ?? 0) + sign * weight
}

/**
 * Feature-hashing bag of words: stemmed tokens at full weight plus their
 * character trigrams at lower weight, L2-normalised. Texts sharing words get a
 * high cosine similarity. Values are rounded to float32 so the float and
 * base64 wire encodings carry identical numbers.
 */
export function deterministicEmbedding(text: string, dimensions: number): number[] {
  const size = Math.max(0, Math.floor(dimensions))
  const vector = new Array<number>(size).fill(0)
  if (size === 0) return vector
  for (const token of embeddingTokens(text)) {
    addFeature(vector, `w:${token}`, TOKEN_WEIGHT)
    const padded = `^${token}$`
    const trigramCount = Math.max(1, padded.length - 2)
    const weight = TRIGRAM_WEIGHT / Math.sqrt(trigramCount)
    for (let i = 0; i + 3 <= padded.length; i++) {
      addFeature(vector, `t:${padded.slice(i, i + 3)}`, weight)
    }
  }
  let norm = 0
  for (const v of vector) norm += v * v
  norm = Math.sqrt(norm)
  if (norm < 1e-9) {
    // No usable tokens (or they cancelled out): a fixed unit vector.
    vector.fill(0)
    vector[0] = 1
    return vector
  }
  return vector.map((v) => Math.fround(v / norm))
}

function float32Base64(values: number[]): string {
  const buffer = Buffer.alloc(values.length * 4)
  values.forEach((v, i) => {
    buffer.writeFloatLE(v, i * 4)
  })
  return buffer.toString('base64')
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const approxTokens = (chars: number): number => Math.ceil(chars / 4)

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function messageText(content: unknown): string {
  if (typeof content === 'string') return content
  if (Array.isArray(content)) {
    return content.map((part) => (isRecord(part) && typeof part.text === 'string' ? part.text : '')).join('')
  }
  return ''
}

function positiveInt(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined
}

/** Split into word-sized pieces whose concatenation is exactly `text`. */
function wordPieces(text: string): string[] {
  return text.match(/\s*\S+|\s+$/g) ?? []
}

/** A minimal value conforming to a (strict-mode style) JSON schema. */
function sampleFromSchema(schema: unknown, depth = 0): unknown {
  if (!isRecord(schema) || depth > 8) return null
  if ('const' in schema) return schema.const
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0]
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    const options = schema[key]
    if (Array.isArray(options) && options.length > 0) return sampleFromSchema(options[0], depth + 1)
  }
  let type = schema.type
  if (Array.isArray(type)) type = type.find((t) => t !== 'null') ?? type[0]
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {}
      const props = isRecord(schema.properties) ? schema.properties : {}
      for (const [name, sub] of Object.entries(props)) out[name] = sampleFromSchema(sub, depth + 1)
      return out
    }
    case 'array':
      return []
    case 'string':
      return 'stub'
    case 'number':
    case 'integer':
      return 0
    case 'boolean':
      return false
    case 'null':
      return null
    default:
      return isRecord(schema.properties) ? sampleFromSchema({ ...schema, type: 'object' }, depth) : null
  }
}

function errorTypeForStatus(status: number): { type: string; code: string | null; message: string } {
  switch (status) {
    case 400:
      return { type: 'invalid_request_error', code: null, message: 'Bad request (stub).' }
    case 401:
      return {
        type: 'invalid_request_error',
        code: 'invalid_api_key',
        message: 'Incorrect API key provided (stub).',
      }
    case 403:
      return {
        type: 'invalid_request_error',
        code: 'unsupported_country_region_territory',
        message: 'Forbidden (stub).',
      }
    case 404:
      return { type: 'invalid_request_error', code: 'model_not_found', message: 'Not found (stub).' }
    case 408:
      return { type: 'timeout', code: null, message: 'Request timed out (stub).' }
    case 429:
      return { type: 'requests', code: 'rate_limit_exceeded', message: 'Rate limit reached (stub).' }
    default:
      return status >= 500
        ? {
            type: 'server_error',
            code: null,
            message: 'The server had an error while processing your request (stub).',
          }
        : {
            type: 'invalid_request_error',
            code: null,
            message: `Request failed with status ${status} (stub).`,
          }
  }
}

function requestId(prefix: string): string {
  return `${prefix}${randomBytes(12).toString('hex')}`
}

// ---------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------

type Fault =
  | {
      kind: 'fail'
      path: StubPath | undefined
      remaining: number
      status: number
      retryAfterSeconds: number | undefined
      body: unknown
    }
  | { kind: 'hang'; path: StubPath | undefined; remaining: number }
  | { kind: 'drop'; path: StubPath | undefined; remaining: number }

interface StreamBreak {
  chunks: number
  remaining: number
}

interface RequestState {
  res: ServerResponse
  /** Aborted when the response's connection closes for any reason. */
  closed: AbortController
  /** Set when the stub itself destroyed the connection (drop, break, close()). */
  destroyedByStub: boolean
}

class RequestClosedError extends Error {}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(new RequestClosedError())
  if (ms <= 0) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(new RequestClosedError())
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

function routeOf(path: string): StubPath | undefined {
  if (path === '/v1/chat/completions') return 'chat'
  if (path === '/v1/embeddings') return 'embeddings'
  return undefined
}

export function startOpenAIStub(options: StartOptions = {}): Promise<OpenAIStub> {
  const { port = 0, recordCalls = true, ...runtimeOptions } = options
  const opts: Required<StubOptions> = {
    embeddingDimensions: 64,
    latencyMs: 0,
    tokenDelayMs: 0,
    enforceMaxTokens: false,
    ...stripUndefined(runtimeOptions),
  }
  const calls: StubCall[] = []
  const counts = { chat: 0, embeddings: 0 }
  let faults: Fault[] = []
  let streamBreaks: StreamBreak[] = []
  const replies = new Map<string, string | ((body: Record<string, unknown>) => string)>()
  const sockets = new Set<Socket>()
  const active = new Set<RequestState>()
  let aborted = 0
  let closing = false

  function takeFault(route: StubPath | undefined): Fault | undefined {
    if (route === undefined) return undefined
    const index = faults.findIndex((f) => f.path === undefined || f.path === route)
    if (index < 0) return undefined
    const fault = faults[index]
    if (fault === undefined) return undefined
    fault.remaining -= 1
    if (fault.remaining <= 0) faults.splice(index, 1)
    return fault
  }

  function takeStreamBreak(): StreamBreak | undefined {
    const brk = streamBreaks[0]
    if (brk === undefined) return undefined
    brk.remaining -= 1
    if (brk.remaining <= 0) streamBreaks.shift()
    return brk
  }

  function sendJson(
    state: RequestState,
    status: number,
    payload: unknown,
    headers: Record<string, string> = {},
  ): void {
    const { res } = state
    if (res.destroyed || res.writableEnded) return
    const text = typeof payload === 'string' ? payload : JSON.stringify(payload)
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'x-request-id': requestId('req_'),
      ...headers,
    })
    res.end(text)
  }

  function sendError(
    state: RequestState,
    status: number,
    message: string,
    code: string | null = null,
    type?: string,
  ): void {
    sendJson(state, status, {
      error: { message, type: type ?? errorTypeForStatus(status).type, param: null, code },
    })
  }

  function destroy(state: RequestState): void {
    state.destroyedByStub = true
    state.res.destroy()
    state.res.socket?.destroy()
  }

  function replyFor(model: string, body: Record<string, unknown>, messages: unknown[]): string {
    const scripted = replies.get(model)
    if (typeof scripted === 'string') return scripted
    if (typeof scripted === 'function') return scripted(body)
    let lastUser = ''
    for (const m of messages) {
      if (isRecord(m) && m.role === 'user') lastUser = messageText(m.content)
    }
    const echo = `Echo: ${lastUser.slice(0, 60)} [1]`
    const format = body.response_format
    if (isRecord(format)) {
      if (format.type === 'json_object') return JSON.stringify({ reply: echo })
      if (format.type === 'json_schema' && isRecord(format.json_schema)) {
        return JSON.stringify(sampleFromSchema(format.json_schema.schema))
      }
    }
    return echo
  }

  async function handleEmbeddings(state: RequestState, body: Record<string, unknown>): Promise<void> {
    const { input } = body
    let texts: string[]
    let tokenCounts: number[]
    const isTokens = (v: unknown): v is number[] => Array.isArray(v) && v.every((n) => typeof n === 'number')
    if (typeof input === 'string') {
      texts = [input]
      tokenCounts = [approxTokens(input.length)]
    } else if (Array.isArray(input) && input.length > 0 && input.every((v) => typeof v === 'string')) {
      texts = input as string[]
      tokenCounts = texts.map((t) => approxTokens(t.length))
    } else if (isTokens(input) && input.length > 0) {
      texts = [input.map((n) => `tok${n}`).join(' ')]
      tokenCounts = [input.length]
    } else if (Array.isArray(input) && input.length > 0 && input.every(isTokens)) {
      const arrays = input as number[][]
      texts = arrays.map((arr) => arr.map((n) => `tok${n}`).join(' '))
      tokenCounts = arrays.map((arr) => arr.length)
    } else {
      sendError(
        state,
        400,
        "'input' must be a non-empty string, array of strings, or array of token arrays.",
        null,
      )
      return
    }
    if (typeof body.model !== 'string' || body.model === '') {
      sendError(state, 400, "'model' is required.", null)
      return
    }
    let dimensions = opts.embeddingDimensions
    if (body.dimensions !== undefined && body.dimensions !== null) {
      const requested = positiveInt(body.dimensions)
      if (requested === undefined || requested > 8192) {
        sendError(state, 400, "'dimensions' must be a positive integer.", null)
        return
      }
      dimensions = requested
    }
    const format = body.encoding_format ?? 'float'
    if (format !== 'float' && format !== 'base64') {
      sendError(state, 400, "'encoding_format' must be 'float' or 'base64'.", null)
      return
    }
    await sleep(opts.latencyMs, state.closed.signal)
    const promptTokens = tokenCounts.reduce((a, b) => a + b, 0)
    sendJson(state, 200, {
      object: 'list',
      data: texts.map((text, index) => {
        const vector = deterministicEmbedding(text, dimensions)
        return { object: 'embedding', index, embedding: format === 'base64' ? float32Base64(vector) : vector }
      }),
      model: body.model,
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    })
  }

  async function handleChat(state: RequestState, body: Record<string, unknown>): Promise<void> {
    const { messages } = body
    if (!Array.isArray(messages) || messages.length === 0) {
      sendError(state, 400, "'messages' must be a non-empty array.", null)
      return
    }
    if (typeof body.model !== 'string' || body.model === '') {
      sendError(state, 400, "'model' is required.", null)
      return
    }
    const model = body.model
    const n = positiveInt(body.n) ?? 1
    let reply = replyFor(model, body, messages)
    let finishReason = 'stop'
    const maxTokens = positiveInt(body.max_completion_tokens) ?? positiveInt(body.max_tokens)
    if (opts.enforceMaxTokens && maxTokens !== undefined && approxTokens(reply.length) > maxTokens) {
      reply = reply.slice(0, maxTokens * 4)
      finishReason = 'length'
    }
    const promptChars = messages.reduce<number>(
      (sum, m) => sum + (isRecord(m) ? messageText(m.content).length : 0),
      0,
    )
    const promptTokens = approxTokens(promptChars)
    const completionTokens = approxTokens(reply.length) * n
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: 0,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    }
    const id = requestId('chatcmpl-')
    const created = Math.floor(Date.now() / 1000)
    const signal = state.closed.signal

    await sleep(opts.latencyMs, signal)

    if (body.stream !== true) {
      sendJson(state, 200, {
        id,
        object: 'chat.completion',
        created,
        model,
        choices: Array.from({ length: n }, (_, index) => ({
          index,
          message: { role: 'assistant', content: reply, refusal: null, annotations: [] },
          logprobs: null,
          finish_reason: finishReason,
        })),
        usage,
        service_tier: 'default',
        system_fingerprint: 'fp_onbrand_stub',
      })
      return
    }

    const streamOptions = isRecord(body.stream_options) ? body.stream_options : {}
    const includeUsage = streamOptions.include_usage === true
    const brk = takeStreamBreak()
    const { res } = state
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-request-id': requestId('req_'),
    })
    let lastWrite: Promise<void> = Promise.resolve()
    const write = (choices: unknown[], extra: Record<string, unknown> = {}): void => {
      const chunk: Record<string, unknown> = {
        id,
        object: 'chat.completion.chunk',
        created,
        model,
        service_tier: 'default',
        system_fingerprint: 'fp_onbrand_stub',
        choices,
        ...(includeUsage ? { usage: null } : {}),
        ...extra,
      }
      lastWrite = new Promise<void>((resolveWrite) => {
        res.write(`data: ${JSON.stringify(chunk)}\n\n`, () => resolveWrite())
      })
    }
    const pieces = wordPieces(reply)
    let contentSent = 0
    // Let what was written reach the client before cutting the connection.
    const flushAndDestroy = async (): Promise<void> => {
      await Promise.race([lastWrite, sleep(1000, signal)])
      await sleep(5, signal)
      destroy(state)
    }
    const breakNow = async (): Promise<boolean> => {
      if (brk !== undefined && contentSent >= brk.chunks) {
        await flushAndDestroy()
        return true
      }
      return false
    }
    for (let index = 0; index < n; index++) {
      write([
        {
          index,
          delta: { role: 'assistant', content: '', refusal: null },
          logprobs: null,
          finish_reason: null,
        },
      ])
      for (const piece of pieces) {
        if (await breakNow()) return
        await sleep(opts.tokenDelayMs, signal)
        write([{ index, delta: { content: piece }, logprobs: null, finish_reason: null }])
        contentSent += 1
      }
    }
    // A break request always breaks, even if the reply had fewer chunks.
    if (brk !== undefined) {
      await flushAndDestroy()
      return
    }
    for (let index = 0; index < n; index++) {
      write([{ index, delta: {}, logprobs: null, finish_reason: finishReason }])
    }
    if (includeUsage) write([], { usage })
    res.end('data: [DONE]\n\n')
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const state: RequestState = { res, closed: new AbortController(), destroyedByStub: false }
    active.add(state)
    res.on('close', () => {
      active.delete(state)
      if (!res.writableFinished && !state.destroyedByStub && !closing) aborted += 1
      state.closed.abort()
    })

    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const raw = Buffer.concat(chunks).toString('utf8')
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    const method = req.method ?? 'GET'

    let parsed: unknown
    let parseFailed = false
    if (raw.trim() !== '') {
      try {
        parsed = JSON.parse(raw)
      } catch {
        parseFailed = true
      }
    }
    const body = isRecord(parsed) ? parsed : {}
    if (recordCalls) calls.push({ path, method, body, headers: { ...req.headers }, at: Date.now() })

    const route = method === 'POST' ? routeOf(path) : undefined
    if (route !== undefined) counts[route] += 1
    if (route === undefined) {
      sendError(state, 404, `Invalid URL (${method} ${path})`, null, 'invalid_request_error')
      return
    }
    if (parseFailed || !isRecord(parsed)) {
      sendError(
        state,
        400,
        'We could not parse the JSON body of your request. The body must be a JSON object.',
        null,
        'invalid_request_error',
      )
      return
    }

    const fault = takeFault(route)
    if (fault?.kind === 'hang') return // never answered; close() or the client ends it
    if (fault?.kind === 'drop') {
      destroy(state)
      return
    }
    if (fault?.kind === 'fail') {
      const headers: Record<string, string> = {}
      if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds)
      const info = errorTypeForStatus(fault.status)
      const payload =
        fault.body !== undefined
          ? fault.body
          : { error: { message: info.message, type: info.type, param: null, code: info.code } }
      sendJson(state, fault.status, payload, headers)
      return
    }

    if (route === 'embeddings') await handleEmbeddings(state, body)
    else await handleChat(state, body)
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (error instanceof RequestClosedError) return
      if (!res.headersSent && !res.destroyed) {
        const message = error instanceof Error ? error.message : String(error)
        sendJson({ res, closed: new AbortController(), destroyedByStub: false }, 500, {
          error: {
            message: `Stub internal error: ${message}`,
            type: 'server_error',
            param: null,
            code: null,
          },
        })
      } else {
        res.destroy()
      }
    })
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })

  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject)
      const { port } = server.address() as AddressInfo
      const stub: OpenAIStub = {
        url: `http://127.0.0.1:${port}/v1`,
        calls,
        embeddingCalls: () => counts.embeddings,
        chatCalls: () => counts.chat,
        embeddedInputs: () => {
          const out: string[] = []
          for (const call of calls) {
            if (call.method !== 'POST' || call.path !== '/v1/embeddings') continue
            const { input } = call.body
            if (typeof input === 'string') out.push(input)
            else if (Array.isArray(input)) for (const v of input) if (typeof v === 'string') out.push(v)
          }
          return out
        },
        setOptions: (o) => {
          Object.assign(opts, stripUndefined(o))
        },
        failNext: ({ path, status, times, retryAfterSeconds, body }) => {
          faults.push({ kind: 'fail', path, status, remaining: times ?? 1, retryAfterSeconds, body })
        },
        hangNext: ({ path, times }) => {
          faults.push({ kind: 'hang', path, remaining: times ?? 1 })
        },
        dropNext: ({ path, times }) => {
          faults.push({ kind: 'drop', path, remaining: times ?? 1 })
        },
        setReply: (model, text) => {
          replies.set(model, text)
        },
        breakStreamAfter: ({ chunks, times }) => {
          streamBreaks.push({ chunks: Math.max(0, chunks), remaining: times ?? 1 })
        },
        activeRequests: () => active.size,
        abortedRequests: () => aborted,
        reset: () => {
          calls.length = 0
          counts.chat = 0
          counts.embeddings = 0
          faults = []
          streamBreaks = []
          replies.clear()
          aborted = 0
        },
        close: () =>
          new Promise<void>((resolveClose) => {
            closing = true
            for (const state of active) state.destroyedByStub = true
            server.close(() => resolveClose())
            server.closeAllConnections()
            for (const socket of sockets) socket.destroy()
          }),
      }
      resolve(stub)
    })
  })
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {}
  for (const [k, v] of Object.entries(o)) {
    if (v !== undefined) (out as Record<string, unknown>)[k] = v
  }
  return out
}
