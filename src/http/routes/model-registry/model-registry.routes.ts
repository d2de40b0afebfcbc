import { type OpenAPIHono, z } from '@hono/zod-openapi'
import { ModelId } from '../../../generation/routing.js'
import {
  assertMayChangeRegistry,
  getModel,
  listModels,
  registerModel,
  updateModel,
} from '../../../models/manage-models.js'
import { RegisterModelRequest, UpdateModelRequest } from '../../../models/model-request.js'
import type { Services } from '../../../services.js'
import type { AppEnv } from '../../context.js'
import { problemResponses } from '../../problem.js'
import { protectedRoute } from '../../protected-route.js'

const usd = z.number().nullable()

export const RegisteredModelBody = z
  .object({
    id: z.string(),
    kind: z.enum(['foundation', 'fine_tuned']),
    baseModel: z.string().nullable(),
    baseURL: z.string().nullable().openapi({ description: 'null: the default endpoint' }),
    apiKeyEnv: z.string().nullable().openapi({ description: 'null: the default key' }),
    inputPricePer1M: usd,
    outputPricePer1M: usd,
    trainingPricePer1M: usd,
    fineTunedInputPricePer1M: usd,
    fineTunedOutputPricePer1M: usd,
    hostingPerHour: usd,
    priced: z.boolean().openapi({ description: 'false: calls are costed as null (unknown), never as 0' }),
    callable: z.boolean().openapi({ description: 'an endpoint (and key) is configured in this process' }),
    contextWindow: z.number().int(),
    trainingExampleTokenLimit: z.number().int().nullable(),
    shutdownDate: z.string().nullable(),
    pricesAsOf: z.string().nullable(),
    fineTuneId: z.string().nullable().openapi({ description: 'provenance: the Onbrand fine-tune job' }),
    providerJobId: z.string().nullable(),
    datasetId: z.string().nullable(),
    source: z.enum(['catalog', 'file', 'api', 'fine_tune', 'task']),
    createdBy: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('RegisteredModel')

const IdParam = z.object({
  id: ModelId.openapi({ description: 'The model id, URL-encoded (ids hold `:` and `/`)' }),
})
const json = (description: string) => ({
  description,
  content: { 'application/json': { schema: RegisteredModelBody } },
})

/**
 * The admin registry of provider models. It is not /v1/models: that path answers the OpenAI SDK's
 * `client.models.list()` with the tasks a key may call (src/http/routes/models).
 */
export function registerModelRegistryRoutes(app: OpenAPIHono<AppEnv>, services: Services): void {
  const db = services.db.pool
  const { models } = services

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'get',
      path: '/v1/model-registry',
      tags: ['models'],
      summary: 'Every model tasks may name: endpoint, prices, context window, shutdown date, provenance',
      responses: {
        200: {
          description: 'The registry, by id',
          content: {
            'application/json': {
              schema: z.object({ data: z.array(RegisteredModelBody) }).openapi('RegisteredModelList'),
            },
          },
        },
      },
    }),
    async (c) => c.json({ data: await listModels(models) }, 200),
  )

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'get',
      path: '/v1/model-registry/{id}',
      tags: ['models'],
      summary: 'One registered model',
      request: { params: IdParam },
      responses: { 200: json('The model'), ...problemResponses(400, 404) },
    }),
    async (c) => c.json(await getModel(models, c.req.valid('param').id), 200),
  )

  // Writes also answer at /v1/models (the issue's and most registries' path). Reads stay apart: GET
  // /v1/models is the OpenAI SDK's `client.models.list()`, which lists the tasks a key may call.
  for (const base of ['/v1/model-registry', '/v1/models']) {
    const alias = base === '/v1/models' ? ' (the same as at /v1/model-registry)' : ''
    app.openapi(
      protectedRoute(services, 'admin', {
        method: 'post',
        path: base,
        tags: ['models'],
        summary: `Register a model (a foundation model, or one fine-tuned elsewhere) with its prices${alias}`,
        description:
          'Prices come in pairs (input with output). A model without them is registered unpriced: its calls are costed as null, never 0. ' +
          'The API key is named by its environment variable (`apiKeyEnv`), never sent or stored. 409 when the id is taken. ' +
          'The registry is shared by every collection: a key limited to some collections may read it, not change it (403).',
        request: {
          body: { required: true, content: { 'application/json': { schema: RegisterModelRequest } } },
        },
        responses: { 201: json('Registered'), ...problemResponses(400, 403, 409, 413) },
      }),
      async (c) => {
        assertMayChangeRegistry(c.get('apiKey'))
        const view = await registerModel(db, models, {
          request: c.req.valid('json'),
          createdBy: c.get('apiKey').id,
        })
        return c.json(view, 201)
      },
    )

    app.openapi(
      protectedRoute(services, 'admin', {
        method: 'patch',
        path: `${base}/{id}`,
        tags: ['models'],
        summary: `Change a model’s endpoint, prices, context window or shutdown date (null clears a field)${alias}`,
        description:
          'Other processes see the change within MODEL_REGISTRY_TTL_MS. A field the models file sets is written again from the file at the next start.',
        request: {
          params: IdParam,
          body: { required: true, content: { 'application/json': { schema: UpdateModelRequest } } },
        },
        responses: { 200: json('Changed'), ...problemResponses(400, 403, 404, 413) },
      }),
      async (c) => {
        assertMayChangeRegistry(c.get('apiKey'))
        return c.json(await updateModel(db, models, c.req.valid('param').id, c.req.valid('json')), 200)
      },
    )
  }
}
