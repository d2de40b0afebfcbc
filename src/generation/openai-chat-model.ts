import {
  AIMessage,
  type AIMessageChunk,
  type BaseMessage,
  HumanMessage,
  SystemMessage,
} from '@langchain/core/messages'
import { ChatOpenAI } from '@langchain/openai'
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
  /** Per attempt for complete(); for stream(), the longest wait for the next chunk. */
  timeoutMs: number
  maxRetries: number
}

// Local servers accept any key, but the OpenAI SDK refuses to start without one.
const PLACEHOLDER_KEY = 'not-needed'

/**
 * ChatOpenAI clients are cached per model and sampling settings: temperature and max tokens are
 * constructor fields in LangChain, and building a client per request would cost more than the call.
 */
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

class OpenAIChatModel implements ChatModel {
  readonly id: string
  private readonly clients = new Map<string, ChatOpenAI>()

  constructor(
    private readonly settings: ModelSettings,
    private readonly options: OpenAIChatModelOptions,
  ) {
    this.id = settings.id
  }

  async complete(messages: ChatMessage[], options: ChatCallOptions): Promise<ChatCompletion> {
    // LangChain parses json_schema replies itself and throws on bad JSON without the text; streaming
    // hands back the raw text, which the caller validates and can quote in its one retry.
    if (options.jsonSchema !== undefined) {
      let text = ''
      let usage: ChatUsage | undefined
      for await (const event of this.stream(messages, options)) {
        if (event.type === 'delta') text += event.text
        else usage = event.usage
      }
      return { text, ...(usage ? { usage } : {}) }
    }
    // The client's own per-attempt timeout (ChatOpenAI `timeout`) bounds the call; it surfaces as TimeoutError.
    try {
      const message = await this.client(options).invoke(
        toLangChain(messages),
        options.signal ? { signal: options.signal } : {},
      )
      const usage = usageOf(message)
      return { text: textOf(message), ...(usage ? { usage } : {}) }
    } catch (error) {
      throw classifyError(error, options.signal, undefined)
    }
  }

  async *stream(messages: ChatMessage[], options: ChatCallOptions): AsyncIterable<ChatStreamEvent> {
    const idle = new AbortController()
    let timer: NodeJS.Timeout | undefined
    const arm = () => {
      clearTimeout(timer)
      timer = setTimeout(() => idle.abort(new Error('idle timeout')), this.options.timeoutMs)
    }
    const signal = options.signal ? AbortSignal.any([options.signal, idle.signal]) : idle.signal
    arm()
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
        arm()
        const text = textOf(chunk)
        if (text !== '') yield { type: 'delta', text }
        const usage = usageOf(chunk)
        if (usage) yield { type: 'usage', usage }
      }
    } catch (error) {
      throw classifyError(error, options.signal, idle.signal)
    } finally {
      clearTimeout(timer)
    }
  }

  private client(options: ChatCallOptions): ChatOpenAI {
    const key = `${options.temperature ?? ''}:${options.maxTokens ?? ''}`
    let client = this.clients.get(key)
    if (!client) {
      client = new ChatOpenAI({
        model: this.settings.id,
        apiKey: this.settings.apiKey ?? PLACEHOLDER_KEY,
        configuration: this.settings.baseURL ? { baseURL: this.settings.baseURL } : {},
        maxRetries: this.options.maxRetries,
        timeout: this.options.timeoutMs,
        streamUsage: true,
        ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
        ...(options.maxTokens !== undefined ? { maxTokens: options.maxTokens } : {}),
      })
      this.clients.set(key, client)
    }
    return client
  }
}

function toLangChain(messages: readonly ChatMessage[]): BaseMessage[] {
  return messages.map((message) => {
    if (message.role === 'system') return new SystemMessage(message.content)
    if (message.role === 'assistant') return new AIMessage(message.content)
    return new HumanMessage(message.content)
  })
}

function textOf(message: AIMessageChunk | { content: unknown }): string {
  const { content } = message
  if (typeof content === 'string') return content
  if (Array.isArray(content)) {
    return content
      .map((part) => (part && typeof part === 'object' && 'text' in part ? String(part.text) : ''))
      .join('')
  }
  return ''
}

function usageOf(message: {
  usage_metadata?: { input_tokens: number; output_tokens: number }
}): ChatUsage | undefined {
  const usage = message.usage_metadata
  if (!usage) return undefined
  return { promptTokens: usage.input_tokens, completionTokens: usage.output_tokens }
}

/** Provider messages can carry request details; only the classification and status leave this file. */
function classifyError(
  error: unknown,
  callerSignal: AbortSignal | undefined,
  deadline: AbortSignal | undefined,
): ModelCallError {
  if (error instanceof ModelCallError) return error
  if (callerSignal?.aborted) return new ModelCallError('aborted', 'the caller went away')
  if (deadline?.aborted) return new ModelCallError('timeout', 'the model did not answer in time')
  const record = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>
  const name = String(record.name ?? '')
  if (name === 'TimeoutError') return new ModelCallError('timeout', 'the model did not answer in time')
  if (typeof record.status === 'number')
    return new ModelCallError('http', `HTTP ${record.status}`, record.status)
  const message = error instanceof Error ? error.message : ''
  // A stream cut mid-way surfaces as a bare `TypeError: terminated` from undici.
  if (
    name === 'APIConnectionError' ||
    /connection|terminated|ECONNREFUSED|ECONNRESET|socket/i.test(message)
  ) {
    return new ModelCallError('connection', 'the connection to the model failed')
  }
  if (error instanceof Error && error.constructor.name === 'APIConnectionError') {
    return new ModelCallError('connection', 'the connection to the model failed')
  }
  return new ModelCallError('other', 'the model call failed')
}
