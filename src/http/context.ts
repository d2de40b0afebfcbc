import type { Logger } from 'pino'
import type { ApiKey } from '../auth/api-keys.js'
import type { Metrics } from '../observability/metrics.js'
import type { RateLimitPolicy } from './middleware/rate-limit.js'

export interface AppEnv {
  Variables: {
    requestId: string
    logger: Logger
    apiKey?: ApiKey
    /** The app's metrics (set by observeRequests), for handlers that record their own. */
    metrics?: Metrics
    /** Server-wide default limits (set by createApp); absent means no rate limiting. */
    rateLimits?: RateLimitPolicy
  }
}
