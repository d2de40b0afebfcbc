import { type OpenAPIHono, z } from '@hono/zod-openapi'
import { assertExportable, buildDataset, getDataset, listDatasets } from '../../../datasets/build-dataset.js'
import { BuildDatasetRequest } from '../../../datasets/dataset-request.js'
import { type ExportFile, exportLines } from '../../../datasets/export-dataset.js'
import type { Services } from '../../../services.js'
import { TaskName } from '../../../tasks/task-definition.js'
import type { AppEnv } from '../../context.js'
import { problemResponses } from '../../problem.js'
import { protectedRoute } from '../../protected-route.js'

const Dataset = z
  .object({
    id: z.string(),
    task: z.string(),
    createdAt: z.string(),
    params: z.record(z.string(), z.unknown()),
    baseModel: z.string(),
    status: z.enum(['invalid', 'not_ready', 'ready']),
    counts: z.record(z.string(), z.number()),
    tokenStats: z.record(z.string(), z.unknown()),
    report: z.record(z.string(), z.unknown()).openapi({
      description:
        'errors and warnings, each naming its line (`train:3`) and generation; estimate of billed tokens and cost',
    }),
    files: z.object({
      train: z.string(),
      validation: z.string(),
      preference: z.string(),
      manifest: z.string(),
    }),
  })
  .openapi('Dataset')

const IdParam = z.object({ id: z.uuid() })
const FILES: ExportFile[] = ['train', 'validation', 'preference', 'manifest']

export function registerDatasetRoutes(app: OpenAPIHono<AppEnv>, services: Services): void {
  const db = services.db.pool

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'post',
      path: '/v1/tasks/{name}/datasets',
      tags: ['learn'],
      summary: 'Build an immutable fine-tuning dataset of the task’s reviewed generations',
      request: {
        params: z.object({ name: TaskName }),
        body: { required: true, content: { 'application/json': { schema: BuildDatasetRequest } } },
      },
      responses: {
        201: {
          description: 'Built (check status and report)',
          content: { 'application/json': { schema: Dataset } },
        },
        ...problemResponses(400, 404, 413),
      },
    }),
    async (c) => {
      await services.generationLog.flush()
      const dataset = await buildDataset(
        db,
        services.models,
        c.get('apiKey'),
        c.req.valid('param').name,
        c.req.valid('json'),
      )
      return c.json(dataset, 201)
    },
  )

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'get',
      path: '/v1/tasks/{name}/datasets',
      tags: ['learn'],
      summary: 'The task’s datasets, newest first (at most 50)',
      description:
        'A key limited to some collections sees only the datasets it built, as with GET /v1/datasets/{id}.',
      request: { params: z.object({ name: TaskName }) },
      responses: {
        200: {
          description: 'The datasets',
          content: {
            'application/json': { schema: z.object({ data: z.array(Dataset) }).openapi('DatasetList') },
          },
        },
        ...problemResponses(400, 404),
      },
    }),
    async (c) => c.json({ data: await listDatasets(db, c.get('apiKey'), c.req.valid('param').name) }, 200),
  )

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'get',
      path: '/v1/datasets/{id}',
      tags: ['learn'],
      summary: 'A dataset: counts, token statistics, validation report, cost estimate',
      request: { params: IdParam },
      responses: {
        200: { description: 'The dataset', content: { 'application/json': { schema: Dataset } } },
        ...problemResponses(400, 404),
      },
    }),
    async (c) => c.json(await getDataset(db, c.get('apiKey'), c.req.valid('param').id), 200),
  )

  for (const file of FILES) {
    app.openapi(
      protectedRoute(services, 'admin', {
        method: 'get',
        path: `/v1/datasets/{id}/${file}.jsonl`,
        tags: ['learn'],
        summary:
          file === 'preference'
            ? 'Preference (DPO) pairs from the training split’s corrections, JSONL'
            : file === 'manifest'
              ? 'Which generation each line of train.jsonl / validation.jsonl came from, JSONL'
              : `The ${file} split in the OpenAI chat fine-tuning format, JSONL`,
        request: { params: IdParam },
        responses: {
          200: {
            description: 'One JSON object per line',
            content: { 'application/x-ndjson': { schema: z.string() } },
          },
          ...problemResponses(400, 404, 409),
        },
      }),
      async (c) => {
        const dataset = await getDataset(db, c.get('apiKey'), c.req.valid('param').id)
        if (file !== 'manifest') assertExportable(dataset)
        const lines = exportLines(db, dataset.id, file)
        const encoder = new TextEncoder()
        const body = new ReadableStream<Uint8Array>({
          async pull(controller) {
            const next = await lines.next()
            if (next.done) controller.close()
            else controller.enqueue(encoder.encode(next.value))
          },
          async cancel() {
            await lines.return(undefined)
          },
        })
        // A stream of bytes: @hono/zod-openapi types only json and text bodies against the route.
        return c.body(body, 200, {
          'content-type': 'application/x-ndjson; charset=utf-8',
          'content-disposition': `attachment; filename="${dataset.id}-${file}.jsonl"`,
        }) as never
      },
    )
  }
}
