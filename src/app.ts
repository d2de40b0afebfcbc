import { OpenAPIHono } from '@hono/zod-openapi'
import type { Logger } from 'pino'
import { type AppServices, createAppServices } from './app-services.js'
import type { Config } from './config.js'
import type { Migration } from './db/migrate.js'
import type { Database } from './db/pool.js'
import type { EmbedderFactory } from './embedding/embedder.js'
import { AppError } from './errors.js'
import type { ChatModelFactory } from './generation/chat-model.js'
import type { ModelRegistry } from './generation/model-registry.js'
import type { AppEnv } from './http/context.js'
import { handleError } from './http/error-handler.js'
import { limitBody } from './http/middleware/body-limit.js'
import { allowOrigins } from './http/middleware/cors.js'
import { requestContext } from './http/middleware/request-context.js'
import { registerChatCompletionRoutes } from './http/routes/chat-completions/chat-completions.routes.js'
import { registerCollectionRoutes } from './http/routes/collections/collections.routes.js'
import { registerGenerateRoutes } from './http/routes/generate/generate.routes.js'
import { registerHealthRoutes } from './http/routes/health/health.routes.js'
import { isUploadPath, registerIngestRoutes } from './http/routes/ingest/ingest.routes.js'
import { registerKeyRoutes } from './http/routes/keys/keys.routes.js'
import { registerMetricsRoutes } from './http/routes/metrics/metrics.routes.js'
import { registerRetrieveRoutes } from './http/routes/retrieve/retrieve.routes.js'
import { registerTaskRoutes } from './http/routes/tasks/tasks.routes.js'
import { requireUtf8Json } from './http/utf8-json.js'
import { validationHook } from './http/validation-hook.js'
import { observeRequests } from './observability/http-metrics.js'
import { createMetrics, type Metrics } from './observability/metrics.js'

export interface AppDeps {
  config: Config
  db: Database
  logger: Logger
  migrations: Migration[]
  /** Prometheus registry and metrics; a fresh per-app set (with job-queue gauges) when absent. */
  metrics?: Metrics
  /** Model endpoints, keys and prices; built from config (OPENAI_*, MODELS_FILE) when absent. */
  models?: ModelRegistry
  /** Makes chat model clients; the ChatOpenAI-backed one when absent. */
  chatModels?: ChatModelFactory
  /** Makes query embedders for retrieval; the OpenAI-compatible one from config when absent. */
  embedders?: EmbedderFactory
  /**
   * Key cache, rate limiter and generation log queue. Pass them to close them on shutdown (before the
   * database); when absent the app makes its own, whose timers do not keep the process alive.
   */
  services?: AppServices
}

/** AppDeps with the optional parts resolved: what the routes are registered with. */
export type AppWiring = AppDeps & { metrics: Metrics; services: AppServices }

export function createApp(input: AppDeps): OpenAPIHono<AppEnv> {
  // Resolved once here so every route registered below records into the same registry.
  const deps: AppWiring = {
    ...input,
    metrics: input.metrics ?? createMetrics({ jobQueue: input.db.pool }),
    services: input.services ?? createAppServices(input.db.pool, input.config, input.logger),
  }
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })

  app.use('*', requestContext(deps.logger))
  if (deps.config.CORS_ORIGINS?.length) app.use('*', allowOrigins(deps.config.CORS_ORIGINS))
  app.use('*', observeRequests(deps.metrics))
  app.use('*', async (c, next) => {
    c.set('services', deps.services)
    await next()
  })
  const bodyLimit = limitBody(deps.config.MAX_BODY_BYTES)
  // Uploads carry their own, larger limit (MAX_UPLOAD_BYTES, in registerIngestRoutes).
  app.use('*', (c, next) => (isUploadPath(c.req.path) ? next() : bodyLimit(c, next)))
  const utf8Json = requireUtf8Json()
  app.use('*', (c, next) => (isUploadPath(c.req.path) ? next() : utf8Json(c, next)))

  registerHealthRoutes(app, deps)
  registerKeyRoutes(app, deps)
  registerMetricsRoutes(app, deps)
  registerCollectionRoutes(app, deps)
  registerIngestRoutes(app, deps)
  registerTaskRoutes(app, deps)
  registerGenerateRoutes(app, deps)
  registerChatCompletionRoutes(app, deps)
  registerRetrieveRoutes(app, deps)

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
