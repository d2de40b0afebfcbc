import { createHash, timingSafeEqual } from 'node:crypto'
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import type { MiddlewareHandler } from 'hono'
import { bearerToken } from '../../../auth/authenticate.js'
import { AppError } from '../../../errors.js'
import type { Services } from '../../../services.js'
import type { AppEnv } from '../../context.js'
import { problemResponses } from '../../problem.js'
import { protectedRoute } from '../../protected-route.js'

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
 * METRICS_TOKEN set a scraper sends that token; otherwise an admin API key limited to no collections. METRICS_ENABLED
 * =false removes the route.
 */
export function registerMetricsRoutes(app: OpenAPIHono<AppEnv>, services: Services): void {
  if (!services.config.METRICS_ENABLED) return
  const { registry } = services.metrics
  const route = services.config.METRICS_TOKEN
    ? createRoute({
        ...base,
        security: [{ metricsToken: [] }],
        middleware: [requireMetricsToken(services.config.METRICS_TOKEN)] as const,
        responses: { ...base.responses, ...problemResponses(401) },
      })
    : protectedRoute(services, 'admin', base)
  if (services.config.METRICS_TOKEN) {
    app.openAPIRegistry.registerComponent('securitySchemes', 'metricsToken', {
      type: 'http',
      scheme: 'bearer',
      description: 'The METRICS_TOKEN the server was started with.',
    })
  }
  app.openapi(route, async (c) => {
    // Metrics cover every collection and task, so a key limited to some collections may not read them.
    if (c.get('apiKey')?.collections !== undefined) {
      throw new AppError('forbidden', 'Metrics cover every collection; this API key is limited to some.')
    }
    return c.text(await registry.metrics(), 200, { 'Content-Type': registry.contentType })
  })
}

function requireMetricsToken(token: string): MiddlewareHandler<AppEnv> {
  const expected = createHash('sha256').update(token).digest()
  return async (c, next) => {
    const presented = bearerToken(c.req.header('authorization'))
    // Hashing first makes the comparison constant-time whatever the length presented.
    const matches =
      presented !== undefined && timingSafeEqual(createHash('sha256').update(presented).digest(), expected)
    if (!matches) {
      throw new AppError('unauthorized', 'Send the metrics token as "Authorization: Bearer <METRICS_TOKEN>".')
    }
    await next()
  }
}
