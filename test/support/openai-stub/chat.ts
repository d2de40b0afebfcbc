/**
 * POST /v1/chat/completions: a JSON completion or an SSE stream, honest or hostile (see misbehave.ts).
 */
import {
  approxTokens,
  destroy,
  isRecord,
  positiveInt,
  type RequestState,
  requestId,
  sendBody,
  sendError,
  sendJson,
  sleep,
} from './http.js'
import {
  DEFAULT_DRIP_INTERVAL_MS,
  DEFAULT_PROXY_PAGE,
  type Misbehaviour,
  misreportedUsage,
  type Usage,
  withNul,
} from './misbehave.js'
import { messageText } from './replies.js'

export interface ChatContext {
  tokenDelayMs: number
  enforceMaxTokens: boolean
  latencyFor(model: string): number
  /** False for ids in the stub's own fine-tuned namespace that no succeeded job produced. */
  modelExists(model: string): boolean
  reply(model: string, body: Record<string, unknown>): string
  takeMisbehaviour(model: string, stream: boolean): Misbehaviour | undefined
  /** For streaming requests: destroy the connection after this many content chunks. */
  takeStreamBreak(): { chunks: number } | undefined
  nowMs(): number
}

interface Completion {
  id: string
  created: number
  model: string
  n: number
  reply: string
  finishReason: string
  usage: Usage
  misbehaviour: Misbehaviour | undefined
}

export async function handleChat(
  ctx: ChatContext,
  state: RequestState,
  body: Record<string, unknown>,
): Promise<void> {
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
  if (!ctx.modelExists(model)) {
    sendError(
      state,
      404,
      `The model \`${model}\` does not exist or you do not have access to it.`,
      'model_not_found',
    )
    return
  }
  const stream = body.stream === true
  const misbehaviour = ctx.takeMisbehaviour(model, stream)
  const n = positiveInt(body.n) ?? 1
  let reply = ctx.reply(model, body)
  let finishReason = 'stop'
  const maxTokens = positiveInt(body.max_completion_tokens) ?? positiveInt(body.max_tokens)
  if (ctx.enforceMaxTokens && maxTokens !== undefined && approxTokens(reply.length) > maxTokens) {
    reply = reply.slice(0, maxTokens * 4)
    finishReason = 'length'
  }
  if (misbehaviour?.kind === 'nul-in-content') reply = withNul(reply)
  const promptChars = messages.reduce<number>(
    (sum, m) => sum + (isRecord(m) ? messageText(m.content).length : 0),
    0,
  )
  const promptTokens = approxTokens(promptChars)
  const completionTokens = approxTokens(reply.length) * n
  const usage: Usage = {
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
  const completion: Completion = {
    id: requestId('chatcmpl-'),
    created: Math.floor(ctx.nowMs() / 1000),
    model,
    n,
    reply,
    finishReason,
    usage,
    misbehaviour,
  }

  await sleep(ctx.latencyFor(model), state.closed.signal)

  if (misbehaviour?.kind === 'html') {
    sendBody(
      state,
      misbehaviour.status ?? 200,
      'text/html; charset=utf-8',
      misbehaviour.html ?? DEFAULT_PROXY_PAGE,
    )
    return
  }
  if (stream) await streamCompletion(ctx, state, body, completion)
  else await sendCompletion(state, completion)
}

async function sendCompletion(state: RequestState, c: Completion): Promise<void> {
  const kind = c.misbehaviour?.kind
  const message: Record<string, unknown> = {
    role: 'assistant',
    content: c.reply,
    refusal: null,
    annotations: [],
  }
  if (kind === 'null-content') message.content = null
  if (kind === 'absent-content') delete message.content
  const payload: Record<string, unknown> = {
    id: c.id,
    object: 'chat.completion',
    created: c.created,
    model: c.model,
    choices:
      kind === 'empty-choices'
        ? []
        : Array.from({ length: c.n }, (_, index) => ({
            index,
            message,
            logprobs: null,
            finish_reason: c.finishReason,
          })),
    usage: misreportedUsage(kind, c.usage),
    service_tier: 'default',
    system_fingerprint: 'fp_onbrand_stub',
  }
  if (payload.usage === undefined) delete payload.usage
  const text = JSON.stringify(payload)
  const misbehaviour = c.misbehaviour
  if (misbehaviour?.kind === 'invalid-json') {
    sendJson(state, 200, text.slice(0, Math.floor(text.length / 2)))
    return
  }
  if (misbehaviour?.kind !== 'drip' && misbehaviour?.kind !== 'truncated') {
    sendJson(state, 200, text)
    return
  }
  const bytes = Buffer.from(text)
  const { res } = state
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': bytes.length,
    'x-request-id': requestId('req_'),
  })
  res.flushHeaders()
  if (misbehaviour.kind === 'truncated') {
    await writeAndWait(res, bytes.subarray(0, Math.floor(bytes.length / 2)))
    await sleep(5, state.closed.signal)
    destroy(state)
    return
  }
  await drip(state, bytes, misbehaviour.intervalMs ?? DEFAULT_DRIP_INTERVAL_MS)
  res.end()
}

function writeAndWait(res: RequestState['res'], data: string | Buffer): Promise<void> {
  return new Promise((resolve) => {
    res.write(data, () => resolve())
  })
}

/** Writes `data` one byte at a time, `intervalMs` apart; stops (throws) when the client goes away. */
async function drip(state: RequestState, data: string | Buffer, intervalMs: number): Promise<void> {
  const bytes = Buffer.from(data)
  for (let i = 0; i < bytes.length; i++) {
    if (i > 0) await sleep(intervalMs, state.closed.signal)
    state.res.write(bytes.subarray(i, i + 1))
  }
}

interface Frame {
  text: string
  /** A content delta: paced by tokenDelayMs and counted by breakStreamAfter and `afterChunks`. */
  content: boolean
}

/** Split into word-sized pieces whose concatenation is exactly `text`. */
function wordPieces(text: string): string[] {
  return text.match(/\s*\S+|\s+$/g) ?? []
}

function streamFrames(body: Record<string, unknown>, c: Completion): { frames: Frame[]; firstTail: number } {
  const kind = c.misbehaviour?.kind
  const streamOptions = isRecord(body.stream_options) ? body.stream_options : {}
  const includeUsage = streamOptions.include_usage === true
  const frame = (choices: unknown[], extra: Record<string, unknown> = {}): string => {
    const chunk: Record<string, unknown> = {
      id: c.id,
      object: 'chat.completion.chunk',
      created: c.created,
      model: c.model,
      service_tier: 'default',
      system_fingerprint: 'fp_onbrand_stub',
      choices: kind === 'empty-choices' ? [] : choices,
      ...(includeUsage ? { usage: null } : {}),
      ...extra,
    }
    return `data: ${JSON.stringify(chunk)}\n\n`
  }
  const roleDelta: Record<string, unknown> = { role: 'assistant', content: '', refusal: null }
  if (kind === 'null-content') roleDelta.content = null
  if (kind === 'absent-content') delete roleDelta.content
  const pieces = kind === 'null-content' || kind === 'absent-content' ? [] : wordPieces(c.reply)
  const frames: Frame[] = []
  for (let index = 0; index < c.n; index++) {
    frames.push({
      text: frame([{ index, delta: roleDelta, logprobs: null, finish_reason: null }]),
      content: false,
    })
    for (const piece of pieces) {
      frames.push({
        text: frame([{ index, delta: { content: piece }, logprobs: null, finish_reason: null }]),
        content: true,
      })
    }
  }
  const firstTail = frames.length
  for (let index = 0; index < c.n; index++) {
    frames.push({
      text: frame([{ index, delta: {}, logprobs: null, finish_reason: c.finishReason }]),
      content: false,
    })
  }
  const usage = misreportedUsage(kind, c.usage)
  if (includeUsage && usage !== undefined) frames.push({ text: frame([], { usage }), content: false })
  return { frames, firstTail }
}

/** Index of the frame after `count` content frames, or of the first tail frame when there are fewer. */
function frameAfterContent(frames: Frame[], count: number, firstTail: number): number {
  let seen = 0
  for (let i = 0; i < firstTail; i++) {
    if (!frames[i]?.content) continue
    if (seen === count) return i
    seen += 1
  }
  return firstTail
}

async function streamCompletion(
  ctx: ChatContext,
  state: RequestState,
  body: Record<string, unknown>,
  c: Completion,
): Promise<void> {
  const brk = ctx.takeStreamBreak()
  const { frames, firstTail } = streamFrames(body, c)
  const misbehaviour = c.misbehaviour
  let brokenAt = -1
  let dripAt = -1
  let cutAt = -1
  if (misbehaviour?.kind === 'invalid-json') {
    brokenAt = frameAfterContent(frames, misbehaviour.afterChunks ?? 1, firstTail)
    const target = frames[brokenAt]
    if (target !== undefined) {
      target.text = `data: {"id":"${c.id}","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":\n\n`
    }
  }
  if (misbehaviour?.kind === 'drip')
    dripAt = frameAfterContent(frames, misbehaviour.afterChunks ?? 0, firstTail)
  if (misbehaviour?.kind === 'truncated')
    cutAt = frameAfterContent(frames, misbehaviour.afterChunks ?? 2, firstTail)

  const { res } = state
  const signal = state.closed.signal
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-request-id': requestId('req_'),
  })
  let lastWrite: Promise<void> = Promise.resolve()
  // Let what was written reach the client before cutting the connection.
  const flushAndDestroy = async (): Promise<void> => {
    await Promise.race([lastWrite, sleep(1000, signal)])
    await sleep(5, signal)
    destroy(state)
  }
  let contentSent = 0
  for (let i = 0; i < frames.length; i++) {
    const frame = frames[i]
    if (frame === undefined) continue
    if (i === cutAt) {
      await lastWrite
      res.end()
      return
    }
    // A break request always breaks, even if the reply had fewer chunks.
    if (brk !== undefined && (i === firstTail || (frame.content && contentSent >= brk.chunks))) {
      await flushAndDestroy()
      return
    }
    if (frame.content) await sleep(ctx.tokenDelayMs, signal)
    if (i === dripAt) {
      res.flushHeaders()
      await drip(
        state,
        frame.text,
        misbehaviour?.kind === 'drip' ? (misbehaviour.intervalMs ?? DEFAULT_DRIP_INTERVAL_MS) : 0,
      )
    } else {
      lastWrite = writeAndWait(res, frame.text)
    }
    if (frame.content) contentSent += 1
  }
  res.end('data: [DONE]\n\n')
}
