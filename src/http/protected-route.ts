import { createRoute, type RouteConfig } from '@hono/zod-openapi'
import type { MiddlewareHandler } from 'hono'
import type { Scope } from '../auth/api-keys.js'
import { authenticate } from '../auth/authenticate.js'
import type { Queryable } from '../db/transaction.js'
import type { AppEnv } from './context.js'
import { problemResponses } from './errors.js'
import { enforceRateLimit } from './middleware/rate-limit.js'

/** The extension field that records a route's scope in the OpenAPI document (the auth tests read it). */
export const SCOPE_EXTENSION = 'x-onbrand-scope'

type ProtectedEnv = AppEnv & {
  Variables: AppEnv['Variables'] & { apiKey: NonNullable<AppEnv['Variables']['apiKey']> }
}

/**
 * Authenticate and count the request against the key's rate limits in one database statement (429
 * when over). Only a request that authenticates, scope included, is counted.
 */
export function requireScope(db: Queryable, scope: Scope): MiddlewareHandler<ProtectedEnv> {
  return async (c, next) => {
    const defaults = c.get('rateLimits')
    const { key, window } = await authenticate(db, c.req.header('authorization'), scope, {
      countRequest: defaults !== undefined,
    })
    c.set('apiKey', key)
    c.get('logger').setBindings({ keyId: key.id })
    const rateLimitHeaders = enforceRateLimit(window, {
      scope,
      defaults,
      metrics: c.get('metrics'),
      logger: c.get('logger'),
    })
    await next()
    for (const [name, value] of Object.entries(rateLimitHeaders)) c.header(name, value)
  }
}

/**
 * A route that needs an API key with `scope`: it carries the auth middleware, the security
 * requirement, the 401/403/429 responses and the scope extension, so none of them can be forgotten.
 */
export function protectedRoute<const R extends Omit<RouteConfig, 'security' | 'middleware'>>(
  db: Queryable,
  scope: Scope,
  route: R,
) {
  return createRoute({
    ...route,
    [SCOPE_EXTENSION]: scope,
    security: [{ bearerAuth: [] }],
    middleware: [requireScope(db, scope)] as const,
    responses: { ...route.responses, ...problemResponses(401, 403, 429) },
  })
}
