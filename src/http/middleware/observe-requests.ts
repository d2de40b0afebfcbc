import type { Context, MiddlewareHandler } from 'hono'
import { matchedRoutes } from 'hono/route'
import type { Metrics } from '../../observability/metrics.js'
import type { AppEnv } from '../context.js'

/** Label for requests no route matched (404s, scans): one series, however many paths are probed. */
const UNMATCHED_ROUTE = 'unmatched'

/**
 * Times every request into the HTTP histogram, labelled by the route *pattern* (`/v1/keys/:id`),
 * never the raw path: raw paths carry ids and would grow the series without bound.
 */
export function observeRequests(metrics: Metrics): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
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
function routePattern(c: Context): string {
  const handlers = matchedRoutes(c).filter((route) => route.method !== 'ALL')
  return handlers.at(-1)?.path ?? UNMATCHED_ROUTE
}
