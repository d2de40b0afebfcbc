import { type OpenAPIHono, z } from '@hono/zod-openapi'
import { INT4_MAX } from '../../../db/storable.js'
import { rollBack } from '../../../models/promote.js'
import type { Services } from '../../../services.js'
import {
  activateTaskVersion,
  getTaskVersion,
  listTasks,
  listTaskVersions,
  putTask,
} from '../../../tasks/manage-tasks.js'
import { TaskDefinition, TaskName, TaskVersionBody } from '../../../tasks/task-definition.js'
import type { AppEnv } from '../../context.js'
import { problemResponses } from '../../problem.js'
import { protectedRoute } from '../../protected-route.js'

const json = (schema: z.ZodType, description: string) => ({
  description,
  content: { 'application/json': { schema } },
})
const NameParam = z.object({ name: TaskName })
const VersionParam = z.object({ name: TaskName, version: z.coerce.number().int().min(1).max(INT4_MAX) })

export function registerTaskRoutes(app: OpenAPIHono<AppEnv>, services: Services): void {
  const db = services.db.pool
  // Generation caches active versions; a change made here must show on this process's next request.
  const changed = <T>(name: string, value: T): T => {
    services.tasks.invalidate(name)
    return value
  }

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'put',
      path: '/v1/tasks/{name}',
      tags: ['tasks'],
      summary: 'Create the next version of a task (activated unless activate=false)',
      description:
        'Sending the definition the latest version already has creates nothing and answers 200, so loading the same files twice is harmless. ' +
        'A key limited to some collections must name one of them in `retrieval.collection` (403 otherwise) and ' +
        'gets 404 for a task any version of which names another collection or none.',
      request: {
        params: NameParam,
        query: z.object({ activate: z.enum(['true', 'false']).default('true') }),
        body: { required: true, content: { 'application/json': { schema: TaskDefinition } } },
      },
      responses: {
        200: json(TaskVersionBody, 'Unchanged: the latest version already has this definition'),
        201: json(TaskVersionBody, 'Created'),
        ...problemResponses(400, 404, 413),
      },
    }),
    async (c) => {
      const { name } = c.req.valid('param')
      const definition = c.req.valid('json')
      const result = changed(
        name,
        await putTask(db, {
          models: services.models,
          name,
          definition,
          activate: c.req.valid('query').activate === 'true',
          createdBy: c.get('apiKey').id,
          viewer: c.get('apiKey'),
        }),
      )
      return result.created ? c.json(result.version, 201) : c.json(result.version, 200)
    },
  )

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'get',
      path: '/v1/tasks',
      tags: ['tasks'],
      summary: 'List tasks with their active versions',
      description:
        'A key limited to some collections sees only tasks every version of which names one of its collections.',
      responses: { 200: json(z.object({ data: z.array(TaskVersionBody) }), 'Tasks') },
    }),
    async (c) => c.json({ data: await listTasks(db, c.get('apiKey')) }, 200),
  )

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'get',
      path: '/v1/tasks/{name}',
      tags: ['tasks'],
      summary: 'The active version of a task',
      request: { params: NameParam },
      responses: { 200: json(TaskVersionBody, 'Active version'), ...problemResponses(400, 404) },
    }),
    async (c) => c.json(await getTaskVersion(db, c.req.valid('param').name, undefined, c.get('apiKey')), 200),
  )

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'get',
      path: '/v1/tasks/{name}/versions',
      tags: ['tasks'],
      summary: 'Every version of a task, oldest first',
      request: { params: NameParam },
      responses: {
        200: json(z.object({ data: z.array(TaskVersionBody) }), 'Versions'),
        ...problemResponses(400, 404),
      },
    }),
    async (c) =>
      c.json({ data: await listTaskVersions(db, c.req.valid('param').name, c.get('apiKey')) }, 200),
  )

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'get',
      path: '/v1/tasks/{name}/versions/{version}',
      tags: ['tasks'],
      summary: 'One version of a task',
      request: { params: VersionParam },
      responses: { 200: json(TaskVersionBody, 'Version'), ...problemResponses(400, 404) },
    }),
    async (c) => {
      const { name, version } = c.req.valid('param')
      return c.json(await getTaskVersion(db, name, version, c.get('apiKey')), 200)
    },
  )

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'post',
      path: '/v1/tasks/{name}/versions/{version}/activate',
      tags: ['tasks'],
      summary: 'Make a version the active one (forward or back)',
      request: { params: VersionParam },
      responses: { 200: json(TaskVersionBody, 'Now active'), ...problemResponses(400, 404) },
    }),
    async (c) => {
      const { name, version } = c.req.valid('param')
      return c.json(changed(name, await activateTaskVersion(db, name, version, c.get('apiKey'))), 200)
    },
  )

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'post',
      path: '/v1/tasks/{name}/rollback',
      tags: ['tasks'],
      summary: 'Undo the latest promotion, or activate the newest version older than the active one',
      description:
        'Right after a promotion (POST /v1/tasks/{name}/promote) the version active before it comes back; otherwise the newest older version. ' +
        'Recorded with who and when in GET /v1/tasks/{name}/promotions.',
      request: { params: NameParam },
      responses: { 200: json(TaskVersionBody, 'Now active'), ...problemResponses(400, 404, 409) },
    }),
    async (c) => {
      const { name } = c.req.valid('param')
      return c.json(changed(name, await rollBack(db, c.get('apiKey'), name)), 200)
    },
  )
}
