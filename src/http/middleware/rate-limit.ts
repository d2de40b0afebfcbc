import type { Logger } from 'pino'
import type { RateLimitDecision } from '../../auth/rate-limit-policy.js'
import { AppError } from '../../errors.js'
import type { Metrics } from '../../observability/metrics.js'

/** Throw 429 `rate_limited` for a refused request; otherwise return its RateLimit headers. */
export function enforceRateLimit(
  decision: RateLimitDecision,
  request: { metrics: Metrics; logger: Logger },
): Record<string, string> {
  if (!decision.allowed) {
    request.metrics.rateLimited.inc({ limit: decision.limit })
    request.logger.info({ limit: decision.limit }, 'rate limited')
    throw new AppError('rate_limited', decision.detail, { headers: decision.headers })
  }
  return decision.headers
}
