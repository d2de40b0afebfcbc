import type { OpenAPIHono } from '@hono/zod-openapi'
import { getGeneration, listGenerations } from '../../../generation/read-generations.js'
import { claimForReview, reviewQueueOverview } from '../../../review/review-queue.js'
import { submitFeedback } from '../../../review/submit-feedback.js'
import type { Services } from '../../../services.js'
import type { AppEnv } from '../../context.js'
import { problemResponses } from '../../problem.js'
import { protectedRoute } from '../../protected-route.js'
import {
  ClaimRequestSchema,
  ClaimResponseSchema,
  FeedbackRequestSchema,
  FeedbackResponseSchema,
  GenerationDetailSchema,
  GenerationIdParam,
  GenerationPage,
  GenerationQuery,
  ReviewQueueOverviewSchema,
} from './generations.schemas.js'

/** Every scope reads generations; what each key sees is narrowed in generationScopeOf. */
const READERS = ['admin', 'review', 'generate'] as const

export function registerGenerationRoutes(app: OpenAPIHono<AppEnv>, services: Services): void {
  const db = services.db.pool

  app.openapi(
    protectedRoute(services, READERS, {
      method: 'get',
      path: '/v1/generations',
      tags: ['learn'],
      summary: 'Generations, newest first',
      description:
        'Admin and review keys see the generations of the collections on their allowlist (every one without an allowlist); a generate key sees only the generations it made.',
      request: { query: GenerationQuery },
      responses: {
        200: { description: 'One page', content: { 'application/json': { schema: GenerationPage } } },
        ...problemResponses(400),
      },
    }),
    async (c) => {
      const { limit, cursor, from, to, ...filters } = c.req.valid('query')
      const page = await listGenerations(
        db,
        c.get('apiKey'),
        {
          ...filters,
          ...(from !== undefined ? { from: new Date(from) } : {}),
          ...(to !== undefined ? { to: new Date(to) } : {}),
        },
        { limit, ...(cursor !== undefined ? { cursor } : {}) },
      )
      return c.json(page, 200)
    },
  )

  app.openapi(
    protectedRoute(services, READERS, {
      method: 'get',
      path: '/v1/generations/{id}',
      tags: ['learn'],
      summary: 'One generation: messages as sent, passages, output, citations, route, usage, feedback',
      request: { params: GenerationIdParam },
      responses: {
        200: {
          description: 'The generation',
          content: { 'application/json': { schema: GenerationDetailSchema } },
        },
        ...problemResponses(400, 404),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param')
      // Written in batches: a generation finished a moment ago may still be queued in this process.
      await services.generationLog.flush()
      return c.json(await getGeneration(db, c.get('apiKey'), id), 200)
    },
  )

  app.openapi(
    protectedRoute(services, READERS, {
      method: 'put',
      path: '/v1/generations/{id}/feedback',
      tags: ['learn'],
      summary: 'Set your feedback on a generation (one current feedback per key; history kept)',
      description:
        'PUT semantics: the body replaces this key’s current feedback (fields left out are cleared), and every change is appended to the history, so retries and flipped votes never duplicate. A generate key may rate its own generations only; approving and correcting need review or admin. The answer reveals the route and model.',
      request: {
        params: GenerationIdParam,
        body: { required: true, content: { 'application/json': { schema: FeedbackRequestSchema } } },
      },
      responses: {
        200: { description: 'Stored', content: { 'application/json': { schema: FeedbackResponseSchema } } },
        ...problemResponses(400, 404, 413),
      },
    }),
    async (c) => {
      const result = await submitFeedback(
        db,
        c.get('apiKey'),
        c.req.valid('param').id,
        c.req.valid('json'),
        () => services.generationLog.flush(),
      )
      return c.json(result, 200)
    },
  )

  app.openapi(
    protectedRoute(services, ['review', 'admin'], {
      method: 'post',
      path: '/v1/review-queue/claim',
      tags: ['learn'],
      summary: 'Claim unreviewed generations of a task for 10 minutes, blind, evenly across route arms',
      description:
        'Items are leased to this key for 10 minutes (claiming again renews and returns them); no two reviewers hold the same item. Model, route, usage and the system message are hidden until the reviewer has submitted feedback.',
      request: { body: { required: true, content: { 'application/json': { schema: ClaimRequestSchema } } } },
      responses: {
        200: {
          description: 'Claimed items (may be fewer than asked)',
          content: { 'application/json': { schema: ClaimResponseSchema } },
        },
        ...problemResponses(400, 404, 413),
      },
    }),
    async (c) => {
      await services.generationLog.flush()
      return c.json(await claimForReview(db, c.get('apiKey'), c.req.valid('json')), 200)
    },
  )

  app.openapi(
    protectedRoute(services, ['review', 'admin'], {
      method: 'get',
      path: '/v1/review-queue',
      tags: ['learn'],
      summary: 'What waits for you to review, per task, and your own progress',
      description:
        'Per task, the generations this key could claim (waiting: held by no one; heldByYou: leased to this key now), counted with the same rules as a claim (succeeded, unreviewed, prompt stored, of the collections on the key’s allowlist, not yet given feedback by this key). `you` counts this key’s current verdicts: a correction, else a rejection, else an approval; `today` since midnight UTC.',
      responses: {
        200: {
          description: 'The queue and your progress',
          content: { 'application/json': { schema: ReviewQueueOverviewSchema } },
        },
      },
    }),
    async (c) => {
      await services.generationLog.flush()
      return c.json(await reviewQueueOverview(db, c.get('apiKey')), 200)
    },
  )
}
