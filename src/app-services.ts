import type { Logger } from 'pino'
import { ApiKeyCache } from './auth/authenticate.js'
import { RateLimiter } from './auth/rate-limiter.js'
import type { Config } from './config.js'
import type { Queryable } from './db/transaction.js'
import { GenerationLogWriter } from './generation/generation-log.js'

/**
 * The per-process state that keeps database statements off the request path: the API key cache, the
 * rate limiter's claimed blocks and unsent token charges, and the queued generation log. Whoever
 * creates it closes it before closing the database, so nothing queued is lost on a clean shutdown.
 */
export interface AppServices {
  keys: ApiKeyCache
  limiter: RateLimiter
  generationLog: GenerationLogWriter
  /** Write everything queued (token charges, generation rows) now. */
  flush(): Promise<void>
  close(): Promise<void>
}

export function createAppServices(db: Queryable, config: Config, logger: Logger): AppServices {
  const keys = new ApiKeyCache(db, config.AUTH_CACHE_TTL_MS)
  const limiter = new RateLimiter(
    db,
    { rpm: config.RATE_LIMIT_RPM, tpm: config.RATE_LIMIT_TPM },
    { syncMs: config.RATE_LIMIT_SYNC_MS, refreshMs: Math.max(1000, config.RATE_LIMIT_SYNC_MS * 2), logger },
  )
  const generationLog = new GenerationLogWriter(db, logger, { flushMs: config.GENERATION_LOG_FLUSH_MS })
  const flush = async () => {
    await generationLog.flush()
    await limiter.flush()
  }
  return {
    keys,
    limiter,
    generationLog,
    flush,
    close: async () => {
      await generationLog.close()
      await limiter.close()
    },
  }
}
