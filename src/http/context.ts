import type { Logger } from 'pino'
import type { ApiKey } from '../auth/api-keys.js'

export interface AppEnv {
  Variables: {
    requestId: string
    logger: Logger
    apiKey?: ApiKey
  }
}
