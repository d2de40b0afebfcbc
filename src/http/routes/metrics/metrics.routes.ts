import { createHash, timingSafeEqual } from 'node:crypto'
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import type { MiddlewareHandler } from 'hono'
import type { Config } from '../../../config.js'
import type { Database } from '../../../db/pool.js'
import { AppError } from '../../../errors.js'
import type { Metrics } from '../../../observability/metrics.js'
import type { AppEnv } from '../../context.js'
import { problemResponses } from '../../problem.js'
import { protectedRoute } from '../../protected-route.js'

export interface MetricsRouteDeps {
  config: Pick<Config, 'METRICS_ENABLED' | 'METRICS_TOKEN'>
  db: Database
  metrics: Metrics
}

const BEARER = /^Bearer\s+(\S+)\s*$/i

const base = {
  method: 'get' as const,
  path: '/metrics' as const,
  tags: ['operations'],
  summary: 'Prometheus metrics (text exposition format)',
  responses: {
    200: { description: 'Metrics', content: { 'text/plain': { schema: z.string() } } },
    ...problemResponses(500, 503),
  },
}

/**
 * `/metrics` names routes, tasks and models and shows traffic, so it is never public: with
 * METRICS_TOKEN set a scraper sends that token; otherwise an admin API key is needed. METRICS_ENABLED
 * =false removes the route.
 */
export function registerMetricsRoutes(app: OpenAPIHono<AppEnv>, deps: MetricsRouteDeps): void {
  if (!deps.config.METRICS_ENABLED) return
  const { registry } = deps.metrics
  const route = deps.config.METRICS_TOKEN
    ? createRoute({
        ...base,
        security: [{ metricsToken: [] }],
        middleware: [requireMetricsToken(deps.config.METRICS_TOKEN)] as const,
        responses: { ...base.responses, ...problemResponses(401) },
      })
    : protectedRoute(deps.db.pool, 'admin', base)
  if (deps.config.METRICS_TOKEN) {
    app.openAPIRegistry.registerComponent('securitySchemes', 'metricsToken', {
      type: 'http',
      scheme: 'bearer',
      description: 'The METRICS_TOKEN the server was started with.',
    })
  }
  app.openapi(route, async (c) =>
    c.text(await registry.metrics(), 200, { 'Content-Type': registry.contentType }),
  )
}

function requireMetricsToken(token: string): MiddlewareHandler<AppEnv> {
  const expected = createHash('sha256').update(token).digest()
  return async (c, next) => {
    const presented = BEARER.exec(c.req.header('authorization') ?? '')?.[1]
    // Hashing first makes the comparison constant-time whatever the length presented.
    const matches =
      presented !== undefined && timingSafeEqual(createHash('sha256').update(presented).digest(), expected)
    if (!matches) {
      throw new AppError('unauthorized', 'Send the metrics token as "Authorization: Bearer <METRICS_TOKEN>".')
    }
    await next()
  }
}
