import { type OpenAPIHono, z } from '@hono/zod-openapi'
import { CreateFineTuneRequest, StageModelRequest } from '../../../models/fine-tune-request.js'
import {
  cancelFineTune,
  createFineTune,
  fineTuneView,
  getFineTune,
  listFineTunes,
} from '../../../models/fine-tunes.js'
import { stageModel } from '../../../models/stage-model.js'
import type { Services } from '../../../services.js'
import { TaskName, TaskVersionBody } from '../../../tasks/task-definition.js'
import type { AppEnv } from '../../context.js'
import { problemResponses } from '../../problem.js'
import { protectedRoute } from '../../protected-route.js'

const FineTune = z
  .object({
    id: z.string(),
    task: z.string(),
    datasetId: z.string(),
    baseModel: z.string(),
    suffix: z.string().nullable(),
    hyperparameters: z.record(z.string(), z.unknown()),
    maxBudgetUsd: z.number(),
    estimatedCostUsd: z.number().nullable(),
    share: z.number().openapi({ description: 'The staged split’s share for the fine-tuned model' }),
    status: z.enum([
      'pending',
      'uploading',
      'validating_files',
      'queued',
      'running',
      'succeeded',
      'failed',
      'cancelled',
    ]),
    jobId: z.string().nullable().openapi({ description: 'The job following it (GET /v1/ingest-jobs/{id})' }),
    trainingFileId: z.string().nullable(),
    validationFileId: z.string().nullable(),
    providerJobId: z.string().nullable(),
    fineTunedModel: z
      .string()
      .nullable()
      .openapi({ description: 'Registered in /v1/model-registry on success' }),
    trainedTokens: z.number().nullable(),
    events: z.array(z.object({ id: z.string(), at: z.string(), level: z.string(), message: z.string() })),
    checkpoints: z.array(
      z.object({
        step: z.number(),
        trainLoss: z.number().nullable(),
        validLoss: z.number().nullable(),
        at: z.string(),
      }),
    ),
    error: z.string().nullable(),
    stagedVersion: z
      .number()
      .int()
      .nullable()
      .openapi({ description: 'The task version staged (not active)' }),
    nextPollAt: z.string().nullable(),
    createdBy: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
    finishedAt: z.string().nullable(),
  })
  .openapi('FineTune')

const IdParam = z.object({ id: z.uuid() })
const one = (description: string) => ({ description, content: { 'application/json': { schema: FineTune } } })

export function registerFineTuneRoutes(app: OpenAPIHono<AppEnv>, services: Services): void {
  const db = services.db.pool
  const { models } = services

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'post',
      path: '/v1/fine-tunes',
      tags: ['learn'],
      summary:
        'Fine-tune a model on a dataset: upload, train and follow it, then register and stage the model',
      description:
        'Refused with 409 and the reason, before anything is uploaded, when the dataset is not valid, the base model shuts down in under 90 days, ' +
        'or the training estimate (the dataset’s tokens × epochs × the base model’s training price) is over maxBudgetUsd or unknown. ' +
        'The worker uploads the dataset’s train and validation files, creates the provider’s job and follows it with backoff; on success the model is ' +
        'registered with the base model’s fine-tuned prices and a new task version is staged, not active, as a split with `share` (default 0.1).',
      request: {
        body: { required: true, content: { 'application/json': { schema: CreateFineTuneRequest } } },
      },
      responses: { 202: one('Queued'), ...problemResponses(400, 404, 409, 413, 503) },
    }),
    async (c) =>
      c.json(await createFineTune(db, models, c.get('apiKey'), c.req.valid('json'), services.now), 202),
  )

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'get',
      path: '/v1/fine-tunes',
      tags: ['learn'],
      summary: 'Fine-tunes, newest first (at most 50), of one task when `task` is given',
      description: 'A key limited to some collections sees only the fine-tunes it started.',
      request: { query: z.object({ task: TaskName.optional() }) },
      responses: {
        200: {
          description: 'The fine-tunes',
          content: {
            'application/json': { schema: z.object({ data: z.array(FineTune) }).openapi('FineTuneList') },
          },
        },
        ...problemResponses(400),
      },
    }),
    async (c) => c.json({ data: await listFineTunes(db, c.get('apiKey'), c.req.valid('query').task) }, 200),
  )

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'get',
      path: '/v1/fine-tunes/{id}',
      tags: ['learn'],
      summary:
        'A fine-tune: status, the provider’s events, checkpoints’ losses, the model and staged version',
      request: { params: IdParam },
      responses: { 200: one('The fine-tune'), ...problemResponses(400, 404) },
    }),
    async (c) => c.json(fineTuneView(await getFineTune(db, c.get('apiKey'), c.req.valid('param').id)), 200),
  )

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'post',
      path: '/v1/fine-tunes/{id}/cancel',
      tags: ['learn'],
      summary: 'Cancel a fine-tune: the provider’s job and the job following it',
      request: { params: IdParam },
      responses: { 200: one('Cancelled'), ...problemResponses(400, 404, 409, 502, 503) },
    }),
    async (c) => c.json(await cancelFineTune(db, models, c.get('apiKey'), c.req.valid('param').id), 200),
  )

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'post',
      path: '/v1/tasks/{name}/stage',
      tags: ['learn'],
      summary:
        'Stage a registered model (one fine-tuned elsewhere) as the split arm of a new, inactive task version',
      description:
        'Copies the active version with route `{strategy: "split", fineTunedModel: model, share}` (share default 0.1) and does not activate it: ' +
        'evaluate it, then promote (POST /v1/tasks/{name}/promote) or activate it.',
      request: {
        params: z.object({ name: TaskName }),
        body: { required: true, content: { 'application/json': { schema: StageModelRequest } } },
      },
      responses: {
        201: {
          description: 'The staged version',
          content: {
            'application/json': { schema: TaskVersionBody },
          },
        },
        ...problemResponses(400, 404, 409, 413),
      },
    }),
    async (c) => {
      const body = c.req.valid('json')
      const version = await stageModel(db, models, {
        task: c.req.valid('param').name,
        model: body.model,
        ...(body.share !== undefined ? { share: body.share } : {}),
        createdBy: c.get('apiKey').id,
        viewer: c.get('apiKey'),
      })
      return c.json(version, 201)
    },
  )
}
