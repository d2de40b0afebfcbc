import { createRoute, type RouteConfig } from '@hono/zod-openapi'
import type { MiddlewareHandler } from 'hono'
import type { Scope } from '../auth/api-keys.js'
import { authenticate } from '../auth/authenticate.js'
import type { Services } from '../services.js'
import type { AppEnv } from './context.js'
import { enforceRateLimit } from './middleware/rate-limit.js'
import { problemResponses } from './problem.js'

/** The extension field that records a route's scope in the OpenAPI document (the auth tests read it). */
export const SCOPE_EXTENSION = 'x-onbrand-scope'

type AuthServices = Pick<Services, 'apiKeys' | 'rateLimiter' | 'metrics' | 'db'>

type ProtectedEnv = AppEnv & {
  Variables: AppEnv['Variables'] & { apiKey: NonNullable<AppEnv['Variables']['apiKey']> }
}

/**
 * Authenticate, then count the request against the key's rate limits (429 when over). Only a request
 * that authenticates, scope included, is counted. Neither usually costs a database statement: key rows
 * are cached briefly and requests are admitted from blocks claimed ahead (see RateLimiter). A route open
 * to several scopes counts the request under the first of them the key holds (tokens are checked only
 * when that is `generate`).
 */
function requireScope(services: AuthServices, scopes: RouteScope): MiddlewareHandler<ProtectedEnv> {
  const { apiKeys, rateLimiter, metrics, db } = services
  return async (c, next) => {
    const { key, row, scope } = await authenticate(apiKeys, db.pool, c.req.header('authorization'), scopes)
    c.set('apiKey', key)
    c.get('logger').setBindings({ keyId: key.id })
    const rateLimitHeaders = enforceRateLimit(await rateLimiter.admit(row, scope), {
      metrics,
      logger: c.get('logger'),
    })
    // Set before the handler runs, so they go out with whatever response it makes (setting them on a
    // finished response would make @hono/node-server build a full Response object for every request).
    for (const [name, value] of Object.entries(rateLimitHeaders)) c.header(name, value)
    await next()
  }
}

/** The scope a route needs, or the scopes of which a key must hold at least one. */
export type RouteScope = Scope | readonly Scope[]

/**
 * A route that needs an API key with `scope` (or one of `scope`, when it lists several): it carries the
 * auth middleware, the security requirement, the 401/403/429 responses, 503 (the key is checked against
 * the database, which may be unavailable), 415 when it takes a body (a Content-Type it does not declare),
 * and the scope extension, so none of them can be forgotten.
 */
export function protectedRoute<const R extends Omit<RouteConfig, 'security' | 'middleware'>>(
  services: AuthServices,
  scope: RouteScope,
  route: R,
) {
  return createRoute({
    ...route,
    [SCOPE_EXTENSION]: scope,
    security: [{ bearerAuth: [] }],
    middleware: [requireScope(services, scope)] as const,
    responses: {
      ...route.responses,
      ...problemResponses(401, 403, 429, 503),
      ...(route.request?.body === undefined ? {} : problemResponses(415)),
    },
  })
}
