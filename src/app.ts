import { OpenAPIHono } from '@hono/zod-openapi'
import type { Logger } from 'pino'
import type { Config } from './config.js'
import type { Migration } from './db/migrate.js'
import type { Database } from './db/pool.js'
import type { AppEnv } from './http/context.js'
import { handleError } from './http/error-handler.js'
import { AppError } from './http/errors.js'
import { limitBody } from './http/middleware/body-limit.js'
import { requestContext } from './http/middleware/request-context.js'
import { registerHealthRoutes } from './http/routes/health/health.routes.js'
import { registerKeyRoutes } from './http/routes/keys/keys.routes.js'
import { validationHook } from './http/validation-hook.js'

export interface AppDeps {
  config: Config
  db: Database
  logger: Logger
  migrations: Migration[]
}

export function createApp(deps: AppDeps): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })

  app.use('*', requestContext(deps.logger))
  app.use('*', limitBody(deps.config.MAX_BODY_BYTES))

  registerHealthRoutes(app, deps)
  registerKeyRoutes(app, deps)

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'An Onbrand API key: `Authorization: Bearer onb_…`',
  })
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Onbrand API',
      version: '0.1.0',
      description: 'Retrieval-augmented generation for marketing and content teams.',
    },
  })

  app.notFound((c) =>
    handleError(new AppError('not_found', `No route for ${c.req.method} ${c.req.path}.`), c),
  )
  app.onError(handleError)
  return app
}
