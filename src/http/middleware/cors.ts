import type { MiddlewareHandler } from 'hono'
import { cors } from 'hono/cors'

/**
 * CORS for the configured browser origins only (CORS_ORIGINS); without any, createApp registers
 * nothing and responses carry no CORS headers, so browsers on other sites cannot read them.
 * Keys travel in the Authorization header, never cookies, so credentials stay off.
 */
export function allowOrigins(origins: readonly string[]): MiddlewareHandler {
  return cors({
    origin: [...origins],
    allowMethods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowHeaders: ['Authorization', 'Content-Type', 'X-Request-Id'],
    exposeHeaders: [
      'X-Request-Id',
      'Retry-After',
      'RateLimit-Limit',
      'RateLimit-Remaining',
      'RateLimit-Reset',
      'Location',
    ],
    maxAge: 600,
    credentials: false,
  })
}
