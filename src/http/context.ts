import type { Logger } from 'pino'
import type { ApiKey } from '../auth/api-keys.js'

export interface AppEnv {
  Variables: {
    requestId: string
    logger: Logger
    /** Set by a protected route's middleware once the key has authenticated. */
    apiKey?: ApiKey
  }
}
