import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import { pendingMigrations } from '../../../db/migrate.js'
import { pingDatabase } from '../../../db/pool.js'
import type { Services } from '../../../services.js'
import type { AppEnv } from '../../context.js'
import { problemResponses } from '../../problem.js'

const Health = z.object({ status: z.literal('ok') }).openapi('Health')
const Readiness = z
  .object({
    status: z.enum(['ready', 'not_ready']),
    database: z.enum(['embedded', 'postgres']),
    checks: z.object({ database: z.boolean(), migrations: z.boolean() }),
  })
  .openapi('Readiness')

const healthz = createRoute({
  method: 'get',
  path: '/healthz',
  tags: ['operations'],
  summary: 'Liveness: the process is up',
  responses: { 200: { description: 'Alive', content: { 'application/json': { schema: Health } } } },
})

const readyz = createRoute({
  method: 'get',
  path: '/readyz',
  tags: ['operations'],
  summary: 'Readiness: the database answers and every migration is applied',
  responses: {
    200: { description: 'Ready', content: { 'application/json': { schema: Readiness } } },
    503: { description: 'Not ready', content: { 'application/json': { schema: Readiness } } },
    ...problemResponses(500),
  },
})

export function registerHealthRoutes(app: OpenAPIHono<AppEnv>, services: Services): void {
  app.openapi(healthz, (c) => c.json({ status: 'ok' as const }, 200))
  app.openapi(readyz, async (c) => {
    let database = false
    let migrations = false
    try {
      await pingDatabase(services.db.pool)
      database = true
      migrations = (await pendingMigrations(services.db.pool, services.migrations)).length === 0
    } catch (error) {
      c.get('logger').warn({ err: error }, 'readiness check failed')
    }
    const ready = database && migrations
    const body = {
      status: ready ? ('ready' as const) : ('not_ready' as const),
      database: services.db.kind,
      checks: { database, migrations },
    }
    return ready ? c.json(body, 200) : c.json(body, 503)
  })
}
