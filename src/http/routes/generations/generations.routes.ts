import type { OpenAPIHono } from '@hono/zod-openapi'
import { getGeneration, listGenerations } from '../../../generation/read-generations.js'
import type { Services } from '../../../services.js'
import type { AppEnv } from '../../context.js'
import { problemResponses } from '../../problem.js'
import { protectedRoute } from '../../protected-route.js'
import {
  GenerationDetailSchema,
  GenerationIdParam,
  GenerationPage,
  GenerationQuery,
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
}
