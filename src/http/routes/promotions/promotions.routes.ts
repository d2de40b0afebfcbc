import { type OpenAPIHono, z } from '@hono/zod-openapi'
import { listTaskPromotions, PromoteRequest, promoteModel } from '../../../models/promote.js'
import type { Services } from '../../../services.js'
import { TaskName, TaskVersionBody } from '../../../tasks/task-definition.js'
import type { AppEnv } from '../../context.js'
import { problemResponses } from '../../problem.js'
import { protectedRoute } from '../../protected-route.js'

const Promotion = z
  .object({
    id: z.string(),
    task: z.string(),
    action: z.enum(['promote', 'rollback']),
    model: z.string().nullable(),
    strategy: z.enum(['foundation', 'fine_tuned', 'split']).nullable(),
    fromVersion: z.number().int(),
    toVersion: z.number().int(),
    forced: z
      .boolean()
      .openapi({ description: 'Promoted although the evidence was missing or said the model loses' }),
    evidence: z.record(z.string(), z.unknown()).openapi({
      description:
        'verdict (wins, ties, loses, none), detail, margin, and the evaluation run compared: runId, candidate and active arms with passAll {rate, passed, decided, interval}, judgeMean, costPerCaseUsd',
    }),
    reason: z.string().nullable(),
    createdBy: z.string().nullable(),
    createdAt: z.string(),
  })
  .openapi('Promotion')

const NameParam = z.object({ name: TaskName })

export function registerPromotionRoutes(app: OpenAPIHono<AppEnv>, services: Services): void {
  const db = services.db.pool

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'post',
      path: '/v1/tasks/{name}/promote',
      tags: ['learn'],
      summary:
        'Promote a model: a new active version serving it under `strategy`, recorded with its evidence',
      description:
        'The evidence is the latest finished evaluation run of the task with an arm on the model and one on the active route’s serving model ' +
        '(the fine-tuned model under `fine_tuned`, else the foundation model), compared on the share of results passing every check. ' +
        'Refused with 409 and the numbers when the model loses by more than PROMOTION_MARGIN, or when no such run exists, unless `force` is true. ' +
        'POST /v1/tasks/{name}/rollback undoes it.',
      request: {
        params: NameParam,
        body: { required: true, content: { 'application/json': { schema: PromoteRequest } } },
      },
      responses: {
        201: {
          description: 'Promoted',
          content: {
            'application/json': {
              schema: z.object({ promotion: Promotion, version: TaskVersionBody }).openapi('PromotionResult'),
            },
          },
        },
        ...problemResponses(400, 404, 409, 413),
      },
    }),
    async (c) => {
      const { name } = c.req.valid('param')
      const result = await promoteModel(
        db,
        services.models,
        c.get('apiKey'),
        name,
        c.req.valid('json'),
        services.config.PROMOTION_MARGIN,
      )
      services.tasks.invalidate(name)
      return c.json(result, 201)
    },
  )

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'get',
      path: '/v1/tasks/{name}/promotions',
      tags: ['learn'],
      summary:
        'The task’s promotions and rollbacks, newest first: who, when, from and to which version, the evidence',
      request: { params: NameParam },
      responses: {
        200: {
          description: 'The record',
          content: {
            'application/json': { schema: z.object({ data: z.array(Promotion) }).openapi('PromotionList') },
          },
        },
        ...problemResponses(400, 404),
      },
    }),
    async (c) =>
      c.json({ data: await listTaskPromotions(db, c.get('apiKey'), c.req.valid('param').name) }, 200),
  )
}
