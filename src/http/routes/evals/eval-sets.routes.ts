import { type OpenAPIHono, z } from '@hono/zod-openapi'
import { Check } from '../../../evals/checks.js'
import { createEvalSet, getEvalSet, listEvalSetsOfTask } from '../../../evals/create-eval-set.js'
import { CreateEvalSetRequest, EvalCase } from '../../../evals/eval-set-request.js'
import type { Services } from '../../../services.js'
import { TaskName } from '../../../tasks/task-definition.js'
import type { AppEnv } from '../../context.js'
import { problemResponses } from '../../problem.js'
import { protectedRoute } from '../../protected-route.js'

const EvalSet = z
  .object({
    id: z.string(),
    task: z.string(),
    name: z.string(),
    version: z.number().int(),
    source: z.enum(['upload', 'sampled']),
    params: z.record(z.string(), z.unknown()),
    caseCount: z.number().int(),
    contentHash: z.string().openapi({ description: 'sha256 of the cases: equal hashes, equal cases' }),
    createdAt: z.string(),
    cases: z.array(
      EvalCase.extend({
        ordinal: z.number().int(),
        checks: z.array(Check),
        generationId: z
          .string()
          .nullable()
          .openapi({ description: 'The generation a sampled case came from' }),
      }),
    ),
  })
  .openapi('EvalSet')

const EvalSetSummary = EvalSet.omit({ cases: true }).openapi('EvalSetSummary')

export function registerEvalSetRoutes(app: OpenAPIHono<AppEnv>, services: Services): void {
  const db = services.db.pool

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'post',
      path: '/v1/eval-sets',
      tags: ['learn'],
      summary: 'Freeze a new evaluation set (or the next version of one) for a task',
      description:
        'Cases as a list, as JSONL text, or sampled from the task’s approved or corrected generations that no dataset used for training (they can then never be used for training). Sets are never changed: posting a name again makes its next version.',
      request: {
        body: { required: true, content: { 'application/json': { schema: CreateEvalSetRequest } } },
      },
      responses: {
        201: { description: 'The frozen set', content: { 'application/json': { schema: EvalSet } } },
        ...problemResponses(400, 404, 409, 413),
      },
    }),
    async (c) => {
      await services.generationLog.flush()
      return c.json(await createEvalSet(db, c.get('apiKey'), c.req.valid('json')), 201)
    },
  )

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'get',
      path: '/v1/eval-sets/{id}',
      tags: ['learn'],
      summary: 'An evaluation set with its cases',
      request: { params: z.object({ id: z.uuid() }) },
      responses: {
        200: { description: 'The set', content: { 'application/json': { schema: EvalSet } } },
        ...problemResponses(400, 404),
      },
    }),
    async (c) => c.json(await getEvalSet(db, c.get('apiKey'), c.req.valid('param').id), 200),
  )

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'get',
      path: '/v1/eval-sets',
      tags: ['learn'],
      summary: 'A task’s evaluation sets, newest first (without their cases)',
      request: {
        query: z.object({
          task: TaskName,
          limit: z.coerce.number().int().min(1).max(200).default(50),
        }),
      },
      responses: {
        200: {
          description: 'The sets',
          content: { 'application/json': { schema: z.object({ data: z.array(EvalSetSummary) }) } },
        },
        ...problemResponses(400, 404),
      },
    }),
    async (c) => {
      const { task, limit } = c.req.valid('query')
      return c.json({ data: await listEvalSetsOfTask(db, c.get('apiKey'), task, limit) }, 200)
    },
  )
}
