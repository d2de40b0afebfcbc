import type { Context, MiddlewareHandler } from 'hono'
import { matchedRoutes } from 'hono/route'
import type { AppEnv } from '../http/context.js'
import type { Metrics } from './metrics.js'

/** Label for requests no route matched (404s, scans): one series, however many paths are probed. */
export const UNMATCHED_ROUTE = 'unmatched'

/**
 * Times every request into the HTTP histogram, labelled by the route *pattern* (`/v1/keys/:id`),
 * never the raw path: raw paths carry ids and would grow the series without bound. Also makes the
 * app's metrics available to handlers as `c.get('metrics')`.
 */
export function observeRequests(metrics: Metrics): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    c.set('metrics', metrics)
    const started = performance.now()
    try {
      await next()
    } finally {
      metrics.httpDuration.observe(
        { method: c.req.method, route: routePattern(c), status: String(c.res.status) },
        (performance.now() - started) / 1000,
      )
    }
  }
}

/** The pattern of the handler that answered; `app.use` middleware is registered as method ALL. */
export function routePattern(c: Context): string {
  const handlers = matchedRoutes(c).filter((route) => route.method !== 'ALL')
  return handlers.at(-1)?.path ?? UNMATCHED_ROUTE
}
