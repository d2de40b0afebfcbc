import type { Scope } from './api-keys.js'

/** Server-wide default limits per key and minute; 0 means unlimited. A key's own limits override them. */
export interface RateLimitPolicy {
  rpm: number
  tpm: number
}

export type RateLimitDecision =
  | { allowed: true; headers: Record<string, string> }
  | { allowed: false; limit: 'rpm' | 'tpm'; detail: string; headers: Record<string, string> }

/** A key's minute as the limiter sees it when deciding one request (this request included). */
export interface RateLimitWindow {
  requests: number
  tokens: number
  /** The key's own limits; null means the server default applies. */
  rpm: number | null
  tpm: number | null
  /** Whole seconds until this window closes and the counters start again from zero (at least 1). */
  resetSeconds: number
}

/**
 * Requests per minute count on every authenticated request. Model tokens per minute only gate
 * `generate`-scope routes, the ones that spend tokens: a key that used its tokens can still be
 * managed by admin routes. Tokens are charged after each model call, so the check here refuses once
 * the window's tokens have reached the limit.
 */
export function decideRateLimit(
  window: RateLimitWindow,
  defaults: RateLimitPolicy,
  scope: Scope,
): RateLimitDecision {
  const rpm = window.rpm ?? defaults.rpm
  const tpm = window.tpm ?? defaults.tpm
  const reset = String(window.resetSeconds)
  const headers: Record<string, string> =
    rpm > 0
      ? {
          'RateLimit-Limit': String(rpm),
          'RateLimit-Remaining': String(Math.max(0, rpm - window.requests)),
          'RateLimit-Reset': reset,
        }
      : {}
  if (rpm > 0 && window.requests > rpm) {
    return {
      allowed: false,
      limit: 'rpm',
      detail: `This API key is limited to ${rpm} requests per minute; retry after ${reset} s.`,
      headers: { ...headers, 'Retry-After': reset },
    }
  }
  if (scope === 'generate' && tpm > 0 && window.tokens >= tpm) {
    return {
      allowed: false,
      limit: 'tpm',
      detail: `This API key has used its ${tpm} model tokens for this minute; retry after ${reset} s.`,
      headers: { ...headers, 'Retry-After': reset },
    }
  }
  return { allowed: true, headers }
}
