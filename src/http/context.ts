import type { Logger } from 'pino'
import type { AppServices } from '../app-services.js'
import type { ApiKey } from '../auth/api-keys.js'
import type { Metrics } from '../observability/metrics.js'

export interface AppEnv {
  Variables: {
    requestId: string
    logger: Logger
    apiKey?: ApiKey
    /** The app's metrics (set by observeRequests), for handlers that record their own. */
    metrics?: Metrics
    /** Key cache and rate limiter (set by createApp) for the routes' auth middleware. */
    services: AppServices
  }
}
