import { type OpenAPIHono, z } from '@hono/zod-openapi'
import { createEvalRun } from '../../../evals/create-eval-run.js'
import { CreateEvalRunRequest } from '../../../evals/eval-run-request.js'
import { cancelEvalRun, getEvalRun, listEvalRunsOfTask } from '../../../evals/get-eval-run.js'
import type { Services } from '../../../services.js'
import { TaskName } from '../../../tasks/task-definition.js'
import type { AppEnv } from '../../context.js'
import { problemResponses } from '../../problem.js'
import { protectedRoute } from '../../protected-route.js'

const JobStatusEnum = z.enum([
  'queued',
  'running',
  'succeeded',
  'succeeded_with_errors',
  'failed',
  'cancelled',
])

const Interval = z.object({ low: z.number(), high: z.number() }).nullable()
const Rate = z
  .object({ passed: z.number(), decided: z.number(), rate: z.number().nullable(), interval: Interval })
  .openapi('EvalRate', { description: 'Pass rate with its 95% Wilson score interval' })

const ReviewerAgreement = z
  .object({
    compared: z.number(),
    agreed: z.number(),
    rate: z.number().nullable(),
    interval: Interval,
    judgeLenient: z
      .number()
      .openapi({ description: 'The judge passed what reviewers rejected or corrected' }),
    judgeStrict: z.number().openapi({ description: 'The judge failed what reviewers approved' }),
  })
  .nullable()
  .openapi('EvalReviewerAgreement', {
    description:
      'With a judge: its rubric verdicts against reviewers’ on outputs identical to generations of the task they reviewed (approved vs rejected or corrected); null without a judge',
  })

const ArmReport = z
  .object({
    name: z.string(),
    taskVersion: z.number(),
    model: z.string(),
    promptVariant: z.enum(['as_served', 'fine_tuned']),
    retrieval: z.enum(['on', 'off']),
    results: z.number(),
    failed: z.number(),
    checks: z.record(z.string(), Rate),
    passAll: Rate,
    judge: z
      .object({
        mean: z.number().nullable(),
        interval: Interval,
        scored: z.number(),
        unstableCases: z.array(z.number()),
      })
      .nullable(),
    pairwise: z
      .object({
        against: z.string(),
        compared: z.number(),
        wins: z.number(),
        winRate: z.number().nullable(),
        interval: Interval,
      })
      .nullable()
      .openapi({
        description: 'Win rate against the first arm by the judge (order randomised, ties count half)',
      }),
    latencyMs: z.object({ p50: z.number().nullable(), p95: z.number().nullable() }),
    tokens: z.object({
      prompt: z.number(),
      completion: z.number(),
      meanPrompt: z.number().nullable(),
      meanCompletion: z.number().nullable(),
    }),
    cost: z.object({
      totalUsd: z.number().nullable().openapi({ description: 'null when a model has no price (never 0)' }),
      perCaseUsd: z.number().nullable(),
      pricedResults: z.number(),
      unpricedResults: z.number(),
    }),
    invalidCitations: z.number(),
    reviewerAgreement: ReviewerAgreement,
  })
  .openapi('EvalArmReport')

const EvalRun = z
  .object({
    id: z.string(),
    evalSetId: z.string(),
    task: z.string(),
    jobId: z.string().nullable(),
    status: JobStatusEnum,
    progress: z
      .object({
        phase: z.string(),
        unit: z.string(),
        total: z.number(),
        done: z.number(),
        spentUsd: z.number().optional(),
        etaSeconds: z.number().nullable(),
      })
      .passthrough()
      .nullable(),
    error: z.string().nullable(),
    stoppedReason: z.string().nullable(),
    params: z.record(z.string(), z.unknown()),
    createdAt: z.string(),
    finishedAt: z.string().nullable(),
    report: z.object({
      arms: z.array(ArmReport),
      reviewerAgreement: ReviewerAgreement,
      differences: z.array(
        z.object({
          ordinal: z.number(),
          passShare: z.array(z.number().nullable()),
          failedChecks: z.array(z.array(z.string())),
        }),
      ),
    }),
    baseline: z
      .object({
        runId: z.string(),
        arms: z.array(
          z.object({
            name: z.string(),
            checks: z.record(
              z.string(),
              z.object({
                rate: z.number().nullable(),
                baseline: z.number().nullable(),
                delta: z.number().nullable(),
              }),
            ),
          }),
        ),
      })
      .nullable(),
  })
  .openapi('EvalRun')

const IdParam = z.object({ id: z.uuid() })

const EvalRunSummary = z
  .object({
    id: z.string(),
    evalSetId: z.string(),
    set: z.object({ name: z.string(), version: z.number().int() }),
    status: JobStatusEnum,
    progress: z.object({ done: z.number(), total: z.number() }).nullable(),
    stoppedReason: z.string().nullable(),
    arms: z.array(
      z.object({
        name: z.string(),
        taskVersion: z.number().int(),
        model: z.string(),
        promptVariant: z.enum(['as_served', 'fine_tuned']),
        retrieval: z.enum(['on', 'off']),
      }),
    ),
    judge: z.object({ model: z.string() }).nullable(),
    repetitions: z.number().int(),
    createdAt: z.string(),
    finishedAt: z.string().nullable(),
  })
  .openapi('EvalRunSummary')

export function registerEvalRunRoutes(app: OpenAPIHono<AppEnv>, services: Services): void {
  const db = services.db.pool

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'post',
      path: '/v1/eval-runs',
      tags: ['learn'],
      summary: 'Start an evaluation run: every case of a set through each arm, as a background job',
      description:
        'Each arm is a task version, a model, a prompt variant and retrieval on or off. The job runs on the one job queue (a worker: the API process unless RUN_WORKER=false, or `onbrand worker`).',
      request: {
        body: { required: true, content: { 'application/json': { schema: CreateEvalRunRequest } } },
      },
      responses: {
        202: {
          description: 'Queued',
          content: {
            'application/json': {
              schema: z.object({
                id: z.string(),
                jobId: z.string(),
                status: z.literal('queued'),
                statusUrl: z.string(),
              }),
            },
          },
        },
        ...problemResponses(400, 404),
      },
    }),
    async (c) => {
      const { runId, jobId } = await createEvalRun(db, services.models, c.get('apiKey'), c.req.valid('json'))
      const statusUrl = `/v1/eval-runs/${runId}`
      c.header('Location', statusUrl)
      return c.json({ id: runId, jobId, status: 'queued' as const, statusUrl }, 202)
    },
  )

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'get',
      path: '/v1/eval-runs',
      tags: ['learn'],
      summary: 'A task’s evaluation runs (of one set, if given), newest first, without their reports',
      request: {
        query: z.object({
          task: TaskName,
          evalSetId: z.uuid().optional(),
          limit: z.coerce.number().int().min(1).max(200).default(50),
        }),
      },
      responses: {
        200: {
          description: 'The runs',
          content: { 'application/json': { schema: z.object({ data: z.array(EvalRunSummary) }) } },
        },
        ...problemResponses(400, 404),
      },
    }),
    async (c) => {
      const { task, evalSetId, limit } = c.req.valid('query')
      const filter = { task, ...(evalSetId ? { evalSetId } : {}) }
      return c.json({ data: await listEvalRunsOfTask(db, c.get('apiKey'), filter, limit) }, 200)
    },
  )

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'get',
      path: '/v1/eval-runs/{id}',
      tags: ['learn'],
      summary: 'An evaluation run: status, progress and ETA, and the side-by-side report so far',
      request: { params: IdParam },
      responses: {
        200: { description: 'The run', content: { 'application/json': { schema: EvalRun } } },
        ...problemResponses(400, 404),
      },
    }),
    async (c) => c.json(await getEvalRun(db, c.get('apiKey'), c.req.valid('param').id), 200),
  )

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'post',
      path: '/v1/eval-runs/{id}/cancel',
      tags: ['learn'],
      summary: 'Cancel an evaluation run (a running one stops at its worker’s next lease renewal)',
      request: { params: IdParam },
      responses: {
        200: { description: 'The run as it is now', content: { 'application/json': { schema: EvalRun } } },
        ...problemResponses(400, 404),
      },
    }),
    async (c) => c.json(await cancelEvalRun(db, c.get('apiKey'), c.req.valid('param').id), 200),
  )
}
