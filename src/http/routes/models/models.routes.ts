import { type OpenAPIHono, z } from '@hono/zod-openapi'
import { AppError } from '../../../errors.js'
import type { Services } from '../../../services.js'
import { findCallableTask, listCallableTasks, type TaskModel } from '../../../tasks/callable-tasks.js'
import type { AppEnv } from '../../context.js'
import { addOpenAIErrorField } from '../../openai-errors.js'
import { problemResponses } from '../../problem.js'
import { protectedRoute } from '../../protected-route.js'

const OWNER = 'onbrand' as const

const Model = z
  .object({
    id: z.string().openapi({ description: 'The task name: what `model` takes in /v1/chat/completions' }),
    object: z.literal('model'),
    created: z.number().int().openapi({ description: 'When the active version was stored (unix seconds)' }),
    owned_by: z.literal(OWNER),
  })
  .openapi('Model')

const ModelList = z.object({ object: z.literal('list'), data: z.array(Model) }).openapi('ModelList')

const modelBody = (task: TaskModel) => ({
  id: task.id,
  object: 'model' as const,
  created: task.created,
  owned_by: OWNER,
})

/**
 * OpenAI's models API over tasks (`client.models.list()` / `retrieve()`): the tasks a `generate` key may
 * call. Not a registry of provider models; that is /v1/model-registry.
 */
export function registerModelRoutes(app: OpenAPIHono<AppEnv>, services: Services): void {
  app.use('/v1/models', addOpenAIErrorField())
  app.use('/v1/models/*', addOpenAIErrorField())

  app.openapi(
    protectedRoute(services, 'generate', {
      method: 'get',
      path: '/v1/models',
      tags: ['generation'],
      summary: 'OpenAI-compatible: the tasks this key may call, as models',
      description:
        "Tasks with an active version whose default collection is on the key's allowlist (or that have " +
        'none). Errors are problem+json with an OpenAI-style `error` field.',
      responses: {
        200: { description: 'An OpenAI model list', content: { 'application/json': { schema: ModelList } } },
      },
    }),
    async (c) => {
      const tasks = await listCallableTasks(services.db.pool, c.get('apiKey'))
      return c.json({ object: 'list' as const, data: tasks.map(modelBody) }, 200)
    },
  )

  app.openapi(
    protectedRoute(services, 'generate', {
      method: 'get',
      path: '/v1/models/{id}',
      tags: ['generation'],
      summary: 'OpenAI-compatible: one task this key may call, as a model',
      description:
        "A task that does not exist, has no active version or is outside the key's collections answers 404 alike.",
      request: { params: z.object({ id: z.string().min(1).max(200) }) },
      responses: {
        200: { description: 'An OpenAI model', content: { 'application/json': { schema: Model } } },
        ...problemResponses(400, 404),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param')
      const task = await findCallableTask(services.tasks, c.get('apiKey'), id)
      if (!task) throw new AppError('not_found', `No model (task) named ${id} for this key.`)
      return c.json(modelBody(task), 200)
    },
  )
}
