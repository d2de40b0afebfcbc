import { type OpenAPIHono, z } from '@hono/zod-openapi'
import { TaskInsightsSchema } from '../../../insights/insights-view.js'
import { getTaskInsights } from '../../../insights/task-insights.js'
import { InsightsWindow } from '../../../insights/window.js'
import type { Services } from '../../../services.js'
import { TaskName } from '../../../tasks/task-definition.js'
import type { AppEnv } from '../../context.js'
import { problemResponses } from '../../problem.js'
import { protectedRoute } from '../../protected-route.js'

export function registerInsightsRoutes(app: OpenAPIHono<AppEnv>, services: Services): void {
  app.openapi(
    protectedRoute(services, ['admin', 'review'], {
      method: 'get',
      path: '/v1/tasks/{name}/insights',
      tags: ['learn'],
      summary:
        'Should this task move to a fine-tuned model? Volume, cost, quality per arm, break-even and a verdict',
      description:
        'Aggregates over the window: volume per day and projected per month; per arm and model calls, cost per call, p50/p95 latency, fallback rate, approval rate with a Wilson interval, correction rate and latest evaluation score; prompt composition; clean examples against 500; requirement stability; days until shutdown; break-even; and a verdict with its reasons and numbers (README, "Insights and the verdict"). Admin and review keys; a key limited to some collections sees the tasks and generations of its collections.',
      request: {
        params: z.object({ name: TaskName }),
        query: z.object({ window: InsightsWindow }),
      },
      responses: {
        200: { description: 'The insights', content: { 'application/json': { schema: TaskInsightsSchema } } },
        ...problemResponses(400, 404),
      },
    }),
    async (c) => {
      // Rows still queued for the log belong in the numbers.
      await services.generationLog.flush()
      const key = c.get('apiKey')
      const insights = await getTaskInsights(
        { db: services.db.pool, models: services.models },
        {
          task: c.req.valid('param').name,
          windowDays: c.req.valid('query').window,
          ...(key.collections !== undefined ? { viewer: key } : {}),
        },
      )
      return c.json(insights, 200)
    },
  )
}
