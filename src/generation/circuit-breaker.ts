import type { ChatCallOptions, ChatMessage, ChatModel, ChatStreamEvent } from './chat-model.js'
import { ModelCallError } from './chat-model.js'
import type { ModelSettings } from './model-registry.js'

export type BreakerState = 'closed' | 'open' | 'half_open'

export interface BreakerSettings {
  /** Consecutive availability failures that open the breaker. */
  failureThreshold: number
  /** How long an open breaker skips its model before one trial call may go through. */
  coolDownMs: number
  now: () => number
  /** Told of every change of state (logs, metrics). */
  onChange?: (model: string, state: BreakerState) => void
}

interface Breaker {
  model: string
  failures: number
  /** Open until this time (0: closed). */
  openUntil: number
  /** Half-open: the one trial call in flight, reserved until this time (0: none). */
  trialUntil: number
}

/**
 * One circuit breaker per model and endpoint, for the route's fallback: a fine-tuned model that keeps
 * failing is skipped for a cool-down, so each request goes straight to the foundation model instead of
 * waiting for the failing one (and its retries) first.
 *
 * Closed: calls go through; `failureThreshold` availability failures in a row open it. Open: `admit`
 * says no until `coolDownMs` has passed. Then half-open: one trial call is admitted (reserved for at
 * most another cool-down, in case it is never made); its success closes the breaker, its failure opens
 * it again. Only failures that say the model is unavailable count (timeouts, lost connections, unusable
 * replies, 5xx, 429, 401/403/404, 408): a request the provider refused for its content (400, 413, 422),
 * a caller that left and a JSON reply that failed its schema say nothing about the model's health.
 */
export class ModelCircuitBreakers {
  private readonly breakers = new Map<string, Breaker>()

  constructor(private readonly settings: BreakerSettings) {}

  /** May a call that has an alternative go to this model now? Reserves the trial call when half-open. */
  admit(key: string): boolean {
    const breaker = this.breakers.get(key)
    if (!breaker || breaker.openUntil === 0) return true
    const now = this.settings.now()
    if (now < breaker.openUntil || now < breaker.trialUntil) return false
    breaker.trialUntil = now + this.settings.coolDownMs
    this.settings.onChange?.(breaker.model, 'half_open')
    return true
  }

  state(key: string): BreakerState {
    const breaker = this.breakers.get(key)
    if (!breaker || breaker.openUntil === 0) return 'closed'
    return this.settings.now() < breaker.openUntil ? 'open' : 'half_open'
  }

  succeeded(key: string): void {
    const breaker = this.breakers.get(key)
    if (!breaker) return
    this.breakers.delete(key)
    if (breaker.openUntil !== 0) this.settings.onChange?.(breaker.model, 'closed')
  }

  failed(key: string, model: string, error: unknown): void {
    const breaker = this.breakers.get(key)
    if (!countsAgainstModel(error)) {
      // The trial said nothing about the model: let the next request try.
      if (breaker) breaker.trialUntil = 0
      return
    }
    const now = this.settings.now()
    const current = breaker ?? { model, failures: 0, openUntil: 0, trialUntil: 0 }
    const was = current.openUntil === 0 ? 'closed' : now < current.openUntil ? 'open' : 'half_open'
    current.failures += 1
    current.trialUntil = 0
    this.breakers.set(key, current)
    if (was !== 'closed' || current.failures >= this.settings.failureThreshold) {
      current.openUntil = now + this.settings.coolDownMs
      if (was !== 'open') this.settings.onChange?.(model, 'open')
    }
  }

  /** The model with every call's outcome recorded against its breaker. */
  guard(settings: ModelSettings, model: ChatModel): ChatModel {
    const key = breakerKey(settings)
    const succeeded = () => this.succeeded(key)
    const failed = (error: unknown): never => {
      this.failed(key, settings.id, error)
      throw error
    }
    return {
      id: model.id,
      complete: (messages: ChatMessage[], options: ChatCallOptions) =>
        model.complete(messages, options).then((value) => {
          succeeded()
          return value
        }, failed),
      async *stream(messages: ChatMessage[], options: ChatCallOptions): AsyncIterable<ChatStreamEvent> {
        try {
          yield* model.stream(messages, options)
        } catch (error) {
          failed(error)
        }
        succeeded()
      },
    }
  }
}

/** Breakers are per model and endpoint: the same id served by two endpoints fails independently. */
export function breakerKey(settings: ModelSettings): string {
  return `${settings.id}\n${settings.baseURL ?? ''}`
}

const UNAVAILABLE_STATUSES = new Set([401, 403, 404, 408, 429])

export function countsAgainstModel(error: unknown): boolean {
  if (!(error instanceof ModelCallError)) return false
  switch (error.kind) {
    case 'timeout':
    case 'connection':
    case 'bad_reply':
      return true
    case 'http':
      return error.status === undefined || error.status >= 500 || UNAVAILABLE_STATUSES.has(error.status)
    default:
      return false
  }
}
