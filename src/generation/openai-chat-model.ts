import {
  AIMessage,
  type AIMessageChunk,
  type BaseMessage,
  HumanMessage,
  SystemMessage,
} from '@langchain/core/messages'
import { ChatOpenAI } from '@langchain/openai'
import { linkedAbort } from '../lib/abort.js'
import {
  type ChatCallOptions,
  type ChatCompletion,
  type ChatMessage,
  type ChatModel,
  type ChatModelFactory,
  type ChatStreamEvent,
  type ChatUsage,
  ModelCallError,
} from './chat-model.js'
import type { ModelSettings } from './model-registry.js'

export interface OpenAIChatModelOptions {
  /**
   * complete(): the whole call, headers, body and LangChain's retries included. stream(): the longest
   * wait for the first or the next chunk.
   */
  timeoutMs: number
  /** stream(): the whole stream, however steadily chunks arrive. */
  streamTimeoutMs: number
  maxRetries: number
  /** Clients kept per model, one per sampling setting, least recently used dropped first. Default 32. */
  clientsPerModel?: number
}

// Local servers accept any key, but the OpenAI SDK refuses to start without one.
const PLACEHOLDER_KEY = 'not-needed'
const DEFAULT_CLIENTS_PER_MODEL = 32

/** Models are cached per endpoint: their number is bounded by the tasks and models file an admin wrote. */
export function createOpenAIChatModelFactory(options: OpenAIChatModelOptions): ChatModelFactory {
  const models = new Map<string, ChatModel>()
  return (settings) => {
    const key = `${settings.id}\u0000${settings.baseURL ?? ''}\u0000${settings.apiKey ?? ''}`
    let model = models.get(key)
    if (!model) {
      model = new OpenAIChatModel(settings, options)
      models.set(key, model)
    }
    return model
  }
}

export class OpenAIChatModel implements ChatModel {
  readonly id: string
  private readonly clients: ClientCache

  constructor(
    private readonly settings: ModelSettings,
    private readonly options: OpenAIChatModelOptions,
  ) {
    this.id = settings.id
    this.clients = new ClientCache(options.clientsPerModel ?? DEFAULT_CLIENTS_PER_MODEL)
  }

  /** Clients held for this model (one per sampling setting in use); for tests and benchmarks. */
  get cachedClients(): number {
    return this.clients.size
  }

  async complete(messages: ChatMessage[], options: ChatCallOptions): Promise<ChatCompletion> {
    // The OpenAI SDK's own timeout stops at the response headers; a reply dripped byte by byte would
    // outlast it. This deadline aborts the whole call, body and retries included.
    const deadline = new Deadline(this.options.timeoutMs)
    const linked = linkedAbort([options.signal, deadline.signal])
    const { signal } = linked
    try {
      // LangChain parses json_schema replies itself and throws on bad JSON without the text; streaming
      // hands back the raw text, which the caller validates and can quote in its one retry.
      if (options.jsonSchema !== undefined) {
        let text = ''
        let usage: ChatUsage | undefined
        for await (const event of this.events(messages, options, signal, [deadline.signal])) {
          if (event.type === 'delta') text += event.text
          else usage = event.usage
        }
        return { text, ...(usage ? { usage } : {}) }
      }
      const message = await this.client(options).invoke(toLangChain(messages), { signal })
      const text = textOf(message)
      if (text === '') throw new ModelCallError('bad_reply', 'the reply held no text')
      const usage = usageOf(message)
      return { text, ...(usage ? { usage } : {}) }
    } catch (error) {
      throw classifyError(error, options.signal, [deadline.signal])
    } finally {
      deadline.clear()
      linked.dispose()
    }
  }

  async *stream(messages: ChatMessage[], options: ChatCallOptions): AsyncIterable<ChatStreamEvent> {
    const whole = new Deadline(this.options.streamTimeoutMs)
    const linked = linkedAbort([options.signal, whole.signal])
    try {
      yield* this.events(messages, options, linked.signal, [whole.signal])
    } finally {
      whole.clear()
      linked.dispose()
    }
  }

  /**
   * The stream, with the idle deadline (timeoutMs between chunks). A stream that ends without a
   * finish reason was cut short or was never a completion stream (an HTML page, `choices: []`): both are
   * failed calls, as the same replies are without streaming.
   */
  private async *events(
    messages: ChatMessage[],
    options: ChatCallOptions,
    outer: AbortSignal,
    deadlines: AbortSignal[],
  ): AsyncIterable<ChatStreamEvent> {
    const idle = new Deadline(this.options.timeoutMs)
    const linked = linkedAbort([outer, idle.signal])
    const { signal } = linked
    let finished = false
    let sent = false
    try {
      const chunks = await this.client(options).stream(toLangChain(messages), {
        signal,
        ...(options.jsonSchema !== undefined
          ? {
              response_format: {
                type: 'json_schema',
                json_schema: { name: 'output', schema: options.jsonSchema, strict: false },
              },
            }
          : {}),
      })
      for await (const chunk of chunks) {
        idle.restart()
        if (chunk.response_metadata?.finish_reason != null) finished = true
        const text = textOf(chunk)
        if (text !== '') {
          sent = true
          yield { type: 'delta', text }
        }
        const usage = usageOf(chunk)
        if (usage) yield { type: 'usage', usage }
      }
      if (!finished) {
        throw new ModelCallError(
          'bad_reply',
          sent ? 'the reply stopped before the model finished' : 'the reply was not a completion stream',
        )
      }
      if (!sent) throw new ModelCallError('bad_reply', 'the reply held no text')
    } catch (error) {
      throw classifyError(error, options.signal, [...deadlines, idle.signal])
    } finally {
      idle.clear()
      linked.dispose()
    }
  }

  /**
   * Temperature and max tokens are constructor fields in LangChain, so a client is kept per setting;
   * the cache is bounded because callers choose them freely (chat completions' `max_tokens`).
   */
  private client(options: ChatCallOptions): ChatOpenAI {
    const key = `${options.temperature ?? ''}:${options.maxTokens ?? ''}`
    return this.clients.get(
      key,
      () =>
        new ChatOpenAI({
          model: this.settings.id,
          apiKey: this.settings.apiKey ?? PLACEHOLDER_KEY,
          configuration: this.settings.baseURL ? { baseURL: this.settings.baseURL } : {},
          maxRetries: this.options.maxRetries,
          timeout: this.options.timeoutMs,
          streamUsage: true,
          ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
          ...(options.maxTokens !== undefined ? { maxTokens: options.maxTokens } : {}),
        }),
    )
  }
}

/** A small LRU: a Map keeps insertion order, and a hit is moved to the end. */
class ClientCache {
  private readonly entries = new Map<string, ChatOpenAI>()

  constructor(private readonly max: number) {}

  get size(): number {
    return this.entries.size
  }

  get(key: string, create: () => ChatOpenAI): ChatOpenAI {
    let client = this.entries.get(key)
    if (client) this.entries.delete(key)
    else client = create()
    this.entries.set(key, client)
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!)
    return client
  }
}

/** An abort signal that fires `ms` after it was made (or last restarted). */
class Deadline {
  private readonly controller = new AbortController()
  private timer: NodeJS.Timeout | undefined

  constructor(private readonly ms: number) {
    this.restart()
  }

  get signal(): AbortSignal {
    return this.controller.signal
  }

  restart(): void {
    clearTimeout(this.timer)
    this.timer = setTimeout(() => this.controller.abort(new Error('model deadline')), this.ms)
  }

  clear(): void {
    clearTimeout(this.timer)
  }
}

function toLangChain(messages: readonly ChatMessage[]): BaseMessage[] {
  return messages.map((message) => {
    if (message.role === 'system') return new SystemMessage(message.content)
    if (message.role === 'assistant') return new AIMessage(message.content)
    return new HumanMessage(message.content)
  })
}

/** The reply's text. A NUL can be neither stored nor meant: it becomes U+FFFD, in the answer and the log alike. */
function textOf(message: AIMessageChunk | { content: unknown }): string {
  const { content } = message
  let text = ''
  if (typeof content === 'string') text = content
  else if (Array.isArray(content)) {
    text = content
      .map((part) => (part && typeof part === 'object' && 'text' in part ? String(part.text) : ''))
      .join('')
  }
  return text.includes('\u0000') ? text.replaceAll('\u0000', '\uFFFD') : text
}

/** The server's counts, when they are counts at all (whole, non-negative); whether they are plausible is the caller's call. */
function usageOf(message: {
  usage_metadata?: { input_tokens?: unknown; output_tokens?: unknown }
}): ChatUsage | undefined {
  const usage = message.usage_metadata
  if (!usage) return undefined
  const { input_tokens: prompt, output_tokens: completion } = usage
  if (!isCount(prompt) || !isCount(completion)) return undefined
  return { promptTokens: prompt, completionTokens: completion }
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

// Where the connection never got an answer: refused, unresolvable or unroutable.
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'])

/**
 * Provider messages can carry request details; only Onbrand's own wording and the status leave this
 * file. Timeouts and the caller leaving are known by their signals, HTTP errors by their status; what
 * remains is the transport failing (connection) or a 200 that is no completion (bad_reply).
 */
function classifyError(
  error: unknown,
  callerSignal: AbortSignal | undefined,
  deadlines: AbortSignal[],
): ModelCallError {
  if (error instanceof ModelCallError) return error
  if (callerSignal?.aborted) return new ModelCallError('aborted', 'the caller went away')
  if (deadlines.some((signal) => signal.aborted)) {
    return new ModelCallError('timeout', 'the model did not answer in time')
  }
  const record = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>
  const name = String(record.name ?? '')
  if (name === 'TimeoutError') return new ModelCallError('timeout', 'the model did not answer in time')
  if (typeof record.status === 'number') {
    return new ModelCallError('http', `the model answered HTTP ${record.status}`, record.status)
  }
  const message = error instanceof Error ? error.message : ''
  const connectionError =
    name === 'APIConnectionError' ||
    (error instanceof Error && error.constructor.name === 'APIConnectionError')
  if (connectionError || /fetch failed|ECONNREFUSED|ECONNRESET|socket/i.test(message)) {
    return new ModelCallError(
      'connection',
      UNREACHABLE_CODES.has(causeCode(error) ?? '')
        ? 'the model server could not be reached'
        : 'the connection to the model server failed before it answered',
    )
  }
  // undici's word for a body cut off mid-way.
  if (message === 'terminated') {
    return new ModelCallError('connection', 'the connection to the model server was lost mid-reply')
  }
  if (error instanceof SyntaxError) return new ModelCallError('bad_reply', 'the reply was not valid JSON')
  // LangChain reading a reply of the wrong shape (`choices: []`, a page of HTML the SDK hands back as text).
  if (error instanceof TypeError)
    return new ModelCallError('bad_reply', 'the reply was not a chat completion')
  return new ModelCallError('other', 'the model call failed')
}

/** The system error code (ECONNREFUSED, …) somewhere down an error's `cause` chain. */
function causeCode(error: unknown): string | undefined {
  let current: unknown = error
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}
