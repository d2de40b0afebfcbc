import { OpenAPIHono } from '@hono/zod-openapi'
import { AppError } from './errors.js'
import type { AppEnv } from './http/context.js'
import { handleError } from './http/error-handler.js'
import { limitBody } from './http/middleware/body-limit.js'
import { allowOrigins } from './http/middleware/cors.js'
import { observeRequests } from './http/middleware/observe-requests.js'
import { requestContext } from './http/middleware/request-context.js'
import { withOpenAIError } from './http/openai-errors.js'
import { registerChatCompletionRoutes } from './http/routes/chat-completions/chat-completions.routes.js'
import { registerCollectionRoutes } from './http/routes/collections/collections.routes.js'
import { registerConsoleRoutes } from './http/routes/console/console.routes.js'
import { registerDatasetRoutes } from './http/routes/datasets/datasets.routes.js'
import { registerEvalRunRoutes } from './http/routes/evals/eval-runs.routes.js'
import { registerEvalSetRoutes } from './http/routes/evals/eval-sets.routes.js'
import { registerFineTuneRoutes } from './http/routes/fine-tunes/fine-tunes.routes.js'
import { registerGenerateRoutes } from './http/routes/generate/generate.routes.js'
import { registerGenerationRoutes } from './http/routes/generations/generations.routes.js'
import { registerHealthRoutes } from './http/routes/health/health.routes.js'
import { isUploadPath, registerIngestRoutes } from './http/routes/ingest/ingest.routes.js'
import { registerInsightsRoutes } from './http/routes/insights/insights.routes.js'
import { registerKeyRoutes } from './http/routes/keys/keys.routes.js'
import { registerMetricsRoutes } from './http/routes/metrics/metrics.routes.js'
import { registerModelRegistryRoutes } from './http/routes/model-registry/model-registry.routes.js'
import { registerModelRoutes } from './http/routes/models/models.routes.js'
import { registerPromotionRoutes } from './http/routes/promotions/promotions.routes.js'
import { registerRetrieveRoutes } from './http/routes/retrieve/retrieve.routes.js'
import { registerTaskRoutes } from './http/routes/tasks/tasks.routes.js'
import { requireUtf8Json } from './http/utf8-json.js'
import { validationHook } from './http/validation-hook.js'
import type { Services } from './services.js'

export type App = OpenAPIHono<AppEnv>

/** Every route group, registered in this order; a new resource adds its register function here. */
const ROUTES: ((app: App, services: Services) => void)[] = [
  registerHealthRoutes,
  registerKeyRoutes,
  registerMetricsRoutes,
  registerCollectionRoutes,
  registerIngestRoutes,
  registerTaskRoutes,
  registerGenerateRoutes,
  registerChatCompletionRoutes,
  registerModelRoutes,
  registerModelRegistryRoutes,
  registerFineTuneRoutes,
  registerPromotionRoutes,
  registerGenerationRoutes,
  registerDatasetRoutes,
  registerEvalSetRoutes,
  registerEvalRunRoutes,
  registerInsightsRoutes,
  registerRetrieveRoutes,
  registerConsoleRoutes,
]

/** The HTTP API over a process's services (see buildServices); it opens nothing and owns nothing. */
export function createApp(services: Services): App {
  const { config } = services
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })

  app.use('*', requestContext(services.logger))
  if (config.CORS_ORIGINS?.length) app.use('*', allowOrigins(config.CORS_ORIGINS))
  app.use('*', observeRequests(services.metrics))
  const bodyLimit = limitBody(config.MAX_BODY_BYTES)
  // Uploads carry their own, larger limit (MAX_UPLOAD_BYTES, in registerIngestRoutes).
  app.use('*', (c, next) => (isUploadPath(c.req.path) ? next() : bodyLimit(c, next)))
  const utf8Json = requireUtf8Json()
  app.use('*', (c, next) => (isUploadPath(c.req.path) ? next() : utf8Json(c, next)))

  for (const register of ROUTES) register(app, services)

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

  app.notFound((c) => {
    const res = handleError(new AppError('not_found', `No route for ${c.req.method} ${c.req.path}.`), c)
    // `/v1` is also the OpenAI-compatible surface: an SDK calling a route Onbrand lacks gets its error shape.
    return c.req.path.startsWith('/v1/') ? withOpenAIError(res) : res
  })
  app.onError(handleError)
  return app
}
