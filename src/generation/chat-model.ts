import { z } from '@hono/zod-openapi'
import type { ModelSettings } from './model-registry.js'

/** The most reply tokens a task or a request may ask for; a model's context window may allow fewer. */
export const MAX_REPLY_TOKENS = 100_000

/** A reply-token budget as a request or task field; the message says what is accepted. */
export const ReplyTokens = z
  .number()
  .int({ error: `must be a whole number from 1 to ${MAX_REPLY_TOKENS}` })
  .min(1, { error: `must be a whole number from 1 to ${MAX_REPLY_TOKENS}` })
  .max(MAX_REPLY_TOKENS, { error: `must be a whole number from 1 to ${MAX_REPLY_TOKENS}` })

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant'
  content: string
}

export interface ChatUsage {
  promptTokens: number
  completionTokens: number
}

export interface ChatCallOptions {
  signal?: AbortSignal
  temperature?: number
  maxTokens?: number
  /** Ask for JSON matching this schema (OpenAI `response_format: json_schema`). */
  jsonSchema?: Record<string, unknown>
}

export interface ChatCompletion {
  text: string
  usage?: ChatUsage
}

export type ChatStreamEvent = { type: 'delta'; text: string } | { type: 'usage'; usage: ChatUsage }

/** One model on an OpenAI-compatible endpoint. The real one wraps ChatOpenAI; tests point it at a local stub. */
export interface ChatModel {
  readonly id: string
  complete(messages: ChatMessage[], options: ChatCallOptions): Promise<ChatCompletion>
  stream(messages: ChatMessage[], options: ChatCallOptions): AsyncIterable<ChatStreamEvent>
}

export type ChatModelFactory = (settings: ModelSettings) => ChatModel

/**
 * Why a model call failed. `connection`: no answer at all, or the connection dropped mid-reply;
 * `timeout`: no (complete) answer in time; `http`: the server answered an error status; `bad_reply`: it
 * answered 200 with something that is not a usable completion (not JSON, an HTML page, no choices, no
 * text, a stream that stopped before it finished); `invalid_output`: a JSON task's reply failed its schema;
 * `aborted`: the caller went away.
 */
export type ModelFailureKind =
  | 'timeout'
  | 'connection'
  | 'http'
  | 'bad_reply'
  | 'aborted'
  | 'invalid_output'
  | 'other'

/**
 * A failed model call, classified so routing can decide on fallback and the log can say why. The
 * message is always Onbrand's own wording (never the provider's), so it is safe to show a client.
 */
export class ModelCallError extends Error {
  constructor(
    readonly kind: ModelFailureKind,
    message: string,
    readonly status?: number,
  ) {
    super(message)
    this.name = 'ModelCallError'
  }

  /** A short, safe description for logs and route reasons. */
  get summary(): string {
    if (this.kind === 'http') return `HTTP ${this.status ?? 'error'}`
    if (this.kind === 'connection') return 'connection failed'
    return this.kind.replace('_', ' ')
  }
}
