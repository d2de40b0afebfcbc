/**
 * A small in-process HTTP server on 127.0.0.1 that speaks the OpenAI wire format, so the real `openai`
 * SDK and `@langchain/openai` clients can talk to it in tests and benchmarks (no model provider is
 * reachable from CI). Only node built-ins are used. It serves:
 *
 * - `POST /v1/chat/completions`: JSON or SSE streaming. The reply is, in order: the model's `setReply`
 *   text or function, its `setJudge` verdict, else the default: an echo of the last user message, or
 *   with `distinctReplies` a deterministic text that differs by model and request (a terser style for
 *   `ft:` models). JSON mode (`response_format`) answers a JSON object; for `json_schema` one that
 *   conforms to simple schemas. Hostile replies on demand: `misbehaveNext` (see openai-stub/misbehave.ts).
 * - `POST /v1/embeddings`: deterministic bag-of-words vectors (`deterministicEmbedding`).
 * - `/v1/files` (upload, list, retrieve, content, delete) and `/v1/fine_tuning/jobs` (create, list,
 *   retrieve, cancel, events, checkpoints): jobs go validating_files → queued → running → succeeded |
 *   failed | cancelled one status per GET of the job by default (`fineTuneProgress`); the training file is
 *   checked as OpenAI does and the job fails naming the bad line; `failNextFineTune` injects failures.
 *   A succeeded job's `ft:<base>:onbrand-stub:<suffix>:<id>` model answers chat calls; before that, ids
 *   in that namespace get 404 `model_not_found`.
 * - `GET /v1/models`, `GET|DELETE /v1/models/{id}`: base models configured or used, plus fine-tuned ones.
 *
 * Faults for any route: `failNext`, `hangNext`, `dropNext`; per model: `setModelDown`, `setModelLatency`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { ChatContext } from './openai-stub/chat.js'
import { type FileObject, FileStore, summariseForm } from './openai-stub/files.js'
import { FineTuningStore } from './openai-stub/fine-tuning.js'
import type {
  FailNextFineTuneOptions,
  FineTuneProgress,
  FineTuningJobObject,
} from './openai-stub/fine-tuning-objects.js'
import {
  createIdFactory,
  destroy,
  errorBody,
  isRecord,
  RequestClosedError,
  type RequestState,
  StubHttpError,
  sendError,
  sendJson,
} from './openai-stub/http.js'
import type { MisbehaveNextOptions, Misbehaviour, QueuedMisbehaviour } from './openai-stub/misbehave.js'
import { ModelRegistry } from './openai-stub/models.js'
import { defaultReply, type JudgeFn, judgeReply, type ReplyFn } from './openai-stub/replies.js'
import { buildRoutes, matchRoute, type StubPath } from './openai-stub/routes.js'

export { deterministicEmbedding, embeddingTokens } from './openai-stub/deterministic-embedding.js'
export type { FileObject } from './openai-stub/files.js'
export type {
  CheckpointMetrics,
  FailNextFineTuneOptions,
  FineTuneError,
  FineTuneProgress,
  FineTuneStatus,
  FineTuningCheckpointObject,
  FineTuningEventObject,
  FineTuningJobObject,
} from './openai-stub/fine-tuning-objects.js'
export type { MisbehaveNextOptions, Misbehaviour, MisbehaviourKind } from './openai-stub/misbehave.js'
export type { ModelObject } from './openai-stub/models.js'
export {
  type ChatMessage,
  distinctReply,
  type JudgeFn,
  type JudgeInput,
  type JudgeVerdict,
} from './openai-stub/replies.js'
export type { StubPath } from './openai-stub/routes.js'

export interface StubOptions {
  /** Default embedding size; the request's `dimensions` field overrides it. Default 64. */
  embeddingDimensions?: number
  /** Delay before answering chat and embeddings requests (see also `setModelLatency`). Default 0. */
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
  /**
   * Default replies that depend on the model id and the whole request (`distinctReply`), so different
   * models give different outputs. Default false: the echo `Echo: <last user message> [1]` that existing
   * tests expect. The CLI turns it on.
   */
  distinctReplies?: boolean
  /** What moves fine-tuning jobs on (see `FineTuneProgress`). Default 'per-get'. */
  fineTuneProgress?: FineTuneProgress
  /** With `fineTuneProgress: 'timed'`: milliseconds per status step. Default 1000. */
  fineTuneStepMs?: number
  /** Fewest examples a training file may have, as OpenAI demands. Default 10. */
  minTrainingExamples?: number
}

/** Options only meaningful at start-up. */
export interface StartOptions extends StubOptions {
  /** Port to bind on 127.0.0.1. Default 0 (random free port). */
  port?: number
  /**
   * Keep every request in `calls` (default true). Turn off for long benchmark
   * runs; the counters still count, `calls` and `embeddedInputs()` stay empty.
   */
  recordCalls?: boolean
  /** Base models `GET /v1/models` lists before any request names them. Default none. */
  models?: string[]
  /** The clock for `created` timestamps and timed fine-tuning progress. Default `Date.now`. */
  now?: () => number
  /** Larger request bodies get 413. Default 64 MiB. */
  maxBodyBytes?: number
}

export interface StubCall {
  /** Request path without the query string, e.g. `/v1/embeddings`. */
  path: string
  /** HTTP method, e.g. `POST`. */
  method: string
  /**
   * Parsed JSON body; `{}` when the body was empty or not a JSON object. For a multipart upload, its
   * text fields plus `file: { filename, bytes, type }`.
   */
  body: Record<string, unknown>
  headers: Record<string, string | string[] | undefined>
  /** `Date.now()` when the request body had been received. */
  at: number
}

export interface FailNextOptions {
  /** Only requests to this route (default: any route). */
  path?: StubPath
  status: number
  times?: number
  retryAfterSeconds?: number
  /** Response body; objects are JSON-serialised, strings are sent verbatim. Default: OpenAI error shape. */
  body?: unknown
}

/** How a model that is down answers: an HTTP status in OpenAI's error shape, a dropped connection, or never. */
export type ModelDownMode = number | 'drop' | 'hang'

/** A stored file as `uploadedFiles()` returns it: the file object plus its content as UTF-8. */
export type UploadedFile = FileObject & { content: string }

export interface OpenAIStub {
  /** Base URL for the OpenAI clients, e.g. `http://127.0.0.1:PORT/v1`. */
  url: string
  /** Every request received, in order. */
  calls: StubCall[]
  embeddingCalls(): number
  chatCalls(): number
  /** Requests received for one route (counted even when `recordCalls` is off). */
  callCount(path: StubPath): number
  /** All string inputs sent to /embeddings, flattened in request order (token-array inputs are skipped). */
  embeddedInputs(): string[]
  setOptions(o: Partial<StubOptions>): void
  failNext(opts: FailNextOptions): void
  /** Accept the request and never answer (until the client gives up or the stub closes). */
  hangNext(opts: { path?: StubPath; times?: number }): void
  /** Destroy the socket without sending a response. */
  dropNext(opts: { path?: StubPath; times?: number }): void
  /** Make the next matching chat call(s) answer with a hostile reply (see `Misbehaviour`). */
  misbehaveNext(opts: MisbehaveNextOptions): void
  /** Assistant text to return for a model id, or a function of the request body. */
  setReply(model: string, text: string | ((body: Record<string, unknown>) => string)): void
  /**
   * Make a model act as a judge: `judge` gets the request taken apart (system, last user message,
   * messages, body) and its verdict is the reply (objects as JSON). Replaces any `setReply` of the model.
   */
  setJudge(model: string, judge: JudgeFn): void
  /** Back to the default reply for a model (undoes `setReply` and `setJudge`). */
  clearReply(model: string): void
  /** Latency for one model's chat and embeddings calls, instead of `latencyMs`; null clears it. */
  setModelLatency(model: string, ms: number | null): void
  /** Every chat and embeddings call for the model fails this way until `setModelUp` (or `reset`). */
  setModelDown(model: string, mode: ModelDownMode): void
  setModelUp(model: string): void
  /** For the next streaming chat request(s): destroy the connection after N content chunks. */
  breakStreamAfter(opts: { chunks: number; times?: number }): void
  /** Files uploaded (and results files the stub wrote), oldest first. */
  uploadedFiles(): UploadedFile[]
  /** Every fine-tuning job in OpenAI's shape, oldest first. */
  fineTuneJobs(): FineTuningJobObject[]
  /**
   * Move one job (by id) or every unfinished job `steps` statuses on (default 1; `Infinity` to the end);
   * returns the jobs moved.
   */
  advanceFineTune(id?: string, steps?: number): FineTuningJobObject[]
  /** The next created fine-tuning job(s) fail with this error when they reach `atStatus`. */
  failNextFineTune(opts?: FailNextFineTuneOptions): void
  /** Requests received whose response has not finished yet. */
  activeRequests(): number
  /** Requests whose client closed the connection before the response finished. */
  abortedRequests(): number
  /**
   * Clears calls, counters, queued behaviours, scripted replies and judges, model latencies and outages,
   * files, fine-tuning jobs, used models and the aborted counter (options are kept).
   */
  reset(): void
  close(): Promise<void>
}

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

/** A queue entry that matches, with one use taken from it (removed when used up). */
function takeFrom<T extends { remaining: number }>(
  queue: T[],
  matches: (entry: T) => boolean,
): T | undefined {
  const index = queue.findIndex(matches)
  const entry = queue[index]
  if (entry === undefined) return undefined
  entry.remaining -= 1
  if (entry.remaining <= 0) queue.splice(index, 1)
  return entry
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size <= limit) chunks.push(chunk as Buffer)
  }
  return size > limit ? undefined : Buffer.concat(chunks)
}

export function startOpenAIStub(options: StartOptions = {}): Promise<OpenAIStub> {
  const {
    port = 0,
    recordCalls = true,
    models: presetModels = [],
    now = Date.now,
    maxBodyBytes = 64 * 1024 * 1024,
    ...runtimeOptions
  } = options
  const opts: Required<StubOptions> = {
    embeddingDimensions: 64,
    latencyMs: 0,
    tokenDelayMs: 0,
    enforceMaxTokens: false,
    distinctReplies: false,
    fineTuneProgress: 'per-get',
    fineTuneStepMs: 1000,
    minTrainingExamples: 10,
    ...stripUndefined(runtimeOptions),
  }
  const calls: StubCall[] = []
  const counts: Record<StubPath, number> = { chat: 0, embeddings: 0, files: 0, fine_tuning: 0, models: 0 }
  let faults: Fault[] = []
  let streamBreaks: StreamBreak[] = []
  let misbehaviours: QueuedMisbehaviour[] = []
  const replies = new Map<string, ReplyFn | string>()
  const modelLatency = new Map<string, number>()
  const modelDown = new Map<string, ModelDownMode>()
  const sockets = new Set<Socket>()
  const active = new Set<RequestState>()
  let aborted = 0
  let closing = false

  const nextId = createIdFactory()
  const nowSeconds = (): number => Math.floor(now() / 1000)
  const models = new ModelRegistry(nowSeconds, presetModels)
  const files = new FileStore(nextId, nowSeconds)
  const fineTuning = new FineTuningStore({
    files,
    models,
    nextId,
    nowMs: now,
    settings: () => ({
      progress: opts.fineTuneProgress,
      stepMs: opts.fineTuneStepMs,
      minTrainingExamples: opts.minTrainingExamples,
    }),
  })
  const latencyFor = (model: unknown): number =>
    (typeof model === 'string' ? modelLatency.get(model) : undefined) ?? opts.latencyMs

  const chatContext: ChatContext = {
    get tokenDelayMs() {
      return opts.tokenDelayMs
    },
    get enforceMaxTokens() {
      return opts.enforceMaxTokens
    },
    latencyFor,
    modelExists: (model) => {
      fineTuning.tick()
      return models.exists(model)
    },
    reply: (model, body) => {
      const scripted = replies.get(model)
      if (typeof scripted === 'string') return scripted
      if (typeof scripted === 'function') return scripted(body)
      return defaultReply(model, body, opts.distinctReplies)
    },
    takeMisbehaviour: (model, stream) =>
      takeFrom(
        misbehaviours,
        (m) =>
          (m.model === undefined || m.model === model) && (m.stream === undefined || m.stream === stream),
      )?.spec,
    takeStreamBreak: () => takeFrom(streamBreaks, () => true),
    nowMs: now,
  }

  const routes = buildRoutes({
    chat: chatContext,
    embeddingDefaults: (model) => ({ dimensions: opts.embeddingDimensions, latencyMs: latencyFor(model) }),
    files,
    fineTuning,
    models,
  })

  /** Answers for a model that `setModelDown` took down; false when the model is up. */
  function answerIfDown(state: RequestState, model: unknown): boolean {
    const mode = typeof model === 'string' ? modelDown.get(model) : undefined
    if (mode === undefined) return false
    if (mode === 'drop') destroy(state)
    else if (mode !== 'hang') {
      sendJson(
        state,
        mode,
        errorBody(mode, `The model \`${String(model)}\` is unavailable (stub: model down).`),
      )
    }
    return true
  }

  /** Applies a queued failNext/hangNext/dropNext for this route; false when there is none. */
  function answerIfFault(state: RequestState, route: StubPath): boolean {
    const fault = takeFrom(faults, (f) => f.path === undefined || f.path === route)
    if (fault === undefined) return false
    if (fault.kind === 'drop') destroy(state)
    if (fault.kind === 'fail') {
      const headers: Record<string, string> = {}
      if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds)
      sendJson(state, fault.status, fault.body !== undefined ? fault.body : errorBody(fault.status), headers)
    }
    return true // a hang is never answered; close() or the client ends it
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const state: RequestState = { res, closed: new AbortController(), destroyedByStub: false }
    active.add(state)
    res.on('close', () => {
      active.delete(state)
      if (!res.writableFinished && !state.destroyedByStub && !closing) aborted += 1
      state.closed.abort()
    })

    const raw = await readBody(req, maxBodyBytes)
    const url = new URL(req.url ?? '/', 'http://stub')
    const path = url.pathname
    const method = req.method ?? 'GET'
    const matched = matchRoute(routes, method, path)

    let parsed: unknown
    let parseFailed = false
    let form: FormData | undefined
    if (raw !== undefined && matched?.route.body === 'multipart') {
      try {
        form = await new Response(raw, {
          headers: { 'content-type': req.headers['content-type'] ?? '' },
        }).formData()
        parsed = summariseForm(form)
      } catch {
        parseFailed = true
      }
    } else if (raw !== undefined && raw.toString('utf8').trim() !== '') {
      try {
        parsed = JSON.parse(raw.toString('utf8'))
      } catch {
        parseFailed = true
      }
    }
    const body = isRecord(parsed) ? parsed : {}
    if (recordCalls) calls.push({ path, method, body, headers: { ...req.headers }, at: Date.now() })

    if (matched === undefined) {
      sendError(state, 404, `Invalid URL (${method} ${path})`, null, 'invalid_request_error')
      return
    }
    const { route } = matched
    counts[route.path] += 1
    if (raw === undefined) {
      sendError(state, 413, `The request body is larger than ${maxBodyBytes} bytes.`)
      return
    }
    if (route.body === 'json' && (parseFailed || !isRecord(parsed))) {
      sendError(
        state,
        400,
        'We could not parse the JSON body of your request. The body must be a JSON object.',
        null,
        'invalid_request_error',
      )
      return
    }
    if (route.body === 'multipart' && form === undefined) {
      sendError(state, 400, 'The body must be multipart/form-data with a file part.', null)
      return
    }
    if (route.path === 'chat' || route.path === 'embeddings') {
      if (typeof body.model === 'string') models.noteUsed(body.model)
      if (answerIfDown(state, body.model)) return
    }
    if (answerIfFault(state, route.path)) return

    try {
      const answer = await route.run({ state, body, form, query: url.searchParams, params: matched.params })
      if (answer !== undefined) sendJson(state, 200, answer)
    } catch (error) {
      if (!(error instanceof StubHttpError)) throw error
      sendError(state, error.status, error.message, error.code, undefined, error.param)
    }
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
        callCount: (path) => counts[path],
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
        misbehaveNext: ({ model, times, stream, ...spec }) => {
          misbehaviours.push({ spec: spec as Misbehaviour, model, stream, remaining: times ?? 1 })
        },
        setReply: (model, text) => {
          replies.set(model, text)
        },
        setJudge: (model, judge) => {
          replies.set(model, judgeReply(model, judge))
        },
        clearReply: (model) => {
          replies.delete(model)
        },
        setModelLatency: (model, ms) => {
          if (ms === null) modelLatency.delete(model)
          else modelLatency.set(model, ms)
        },
        setModelDown: (model, mode) => {
          modelDown.set(model, mode)
        },
        setModelUp: (model) => {
          modelDown.delete(model)
        },
        breakStreamAfter: ({ chunks, times }) => {
          streamBreaks.push({ chunks: Math.max(0, chunks), remaining: times ?? 1 })
        },
        uploadedFiles: () => files.snapshot(),
        fineTuneJobs: () => fineTuning.snapshot(),
        advanceFineTune: (id, steps = 1) => fineTuning.advance(id, steps),
        failNextFineTune: (o = {}) => {
          fineTuning.failNext(o)
        },
        activeRequests: () => active.size,
        abortedRequests: () => aborted,
        reset: () => {
          calls.length = 0
          for (const path of Object.keys(counts) as StubPath[]) counts[path] = 0
          faults = []
          streamBreaks = []
          misbehaviours = []
          replies.clear()
          modelLatency.clear()
          modelDown.clear()
          files.reset()
          fineTuning.reset()
          models.reset()
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
