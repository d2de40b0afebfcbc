import { type OpenAPIHono, z } from '@hono/zod-openapi'
import {
  cancelIngestJob,
  dismissIngestJob,
  listIngestJobs,
  retryIngestJob,
} from '../../../../ingest/jobs/manage-jobs.js'
import { describeJob, submitIngest } from '../../../../ingest/jobs/submit-ingest.js'
import { assertCollectionAllowed } from '../../../collections/access.js'
import { CollectionName } from '../../../collections/collection-name.js'
import { requireCollection } from '../../../collections/manage-collections.js'
import type { Services } from '../../../services.js'
import type { AppEnv } from '../../context.js'
import { limitBody } from '../../middleware/body-limit.js'
import { problemResponses } from '../../problem.js'
import { protectedRoute } from '../../protected-route.js'
import { requireUtf8Json } from '../../utf8-json.js'
import { IngestJob, IngestRecordsRequest, IngestUploadForm, JobAccepted } from './ingest.schemas.js'

const UPLOAD_PATH = /^\/v1\/collections\/[^/]+\/ingest\/?$/

/** Uploads get MAX_UPLOAD_BYTES instead of the global MAX_BODY_BYTES (see createApp). */
export function isUploadPath(path: string): boolean {
  return UPLOAD_PATH.test(path)
}

export function registerIngestRoutes(app: OpenAPIHono<AppEnv>, services: Services): void {
  const db = services.db.pool
  app.use('/v1/collections/:name/ingest', limitBody(services.config.MAX_UPLOAD_BYTES))
  app.use('/v1/collections/:name/ingest', requireUtf8Json())

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'post',
      path: '/v1/collections/{name}/ingest',
      tags: ['ingest'],
      summary: 'Queue an ingest of uploaded files or JSON product records',
      description:
        'Multipart: repeat the `files` field per file (Markdown/MDX, text, HTML, CSV, JSON, JSONL). JSON: ' +
        '`{"records": [...]}` of product objects. Answers 202 at once; follow the job at statusUrl.',
      request: {
        params: z.object({ name: CollectionName }),
        body: {
          required: false,
          content: {
            'multipart/form-data': { schema: IngestUploadForm },
            'application/json': { schema: IngestRecordsRequest },
          },
        },
      },
      responses: {
        202: { description: 'Queued', content: { 'application/json': { schema: JobAccepted } } },
        ...problemResponses(400, 404, 413, 415),
      },
    }),
    async (c) => {
      const { name } = c.req.valid('param')
      const key = c.get('apiKey')
      assertCollectionAllowed(key, name)
      const collection = await requireCollection(db, name)
      // Each validator ran only for its own content type; the other one holds {}.
      const form = c.req.valid('form') as IngestUploadForm
      const json = c.req.valid('json') as IngestRecordsRequest
      const uploads = form.files === undefined ? [] : Array.isArray(form.files) ? form.files : [form.files]
      const files = await Promise.all(
        uploads.map(async (file) => ({ name: file.name, content: new Uint8Array(await file.arrayBuffer()) })),
      )
      const job = await submitIngest(services.ingest, {
        collection,
        mode: form.mode ?? json.mode ?? 'upsert',
        files,
        records: json.records,
        options: {
          kind: form.kind ?? (json.records ? 'product' : undefined),
          idColumn: form.idColumn ?? json.idColumn,
          titleColumn: form.titleColumn ?? json.titleColumn,
          textColumns:
            json.textColumns ??
            form.textColumns
              ?.split(',')
              .map((column) => column.trim())
              .filter(Boolean),
        },
        createdBy: key.id,
      })
      const statusUrl = `/v1/ingest-jobs/${job.id}`
      c.header('Location', statusUrl)
      return c.json({ jobId: job.id, status: job.status, collection: collection.name, statusUrl }, 202)
    },
  )

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'get',
      path: '/v1/ingest-jobs/{id}',
      tags: ['ingest'],
      summary: 'Progress, counters, ETA and per-file errors of an ingest job',
      description: "A key limited to some collections gets 404 for another collection's job.",
      request: { params: z.object({ id: z.string().uuid() }) },
      responses: {
        200: { description: 'The job', content: { 'application/json': { schema: IngestJob } } },
        ...problemResponses(400, 404),
      },
    }),
    async (c) => {
      return c.json(await describeJob(db, c.req.valid('param').id, c.get('apiKey')), 200)
    },
  )

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'get',
      path: '/v1/collections/{name}/ingest-jobs',
      tags: ['ingest'],
      summary: 'A collection’s ingest jobs, newest first; dismissed ones only with includeDismissed=true',
      description:
        'Jobs that failed or rejected files stay listed, with their errors, until someone dismisses them (POST /v1/ingest-jobs/{id}/dismiss).',
      request: {
        params: z.object({ name: CollectionName }),
        query: z.object({
          includeDismissed: z.enum(['true', 'false']).default('false'),
          limit: z.coerce.number().int().min(1).max(200).default(20),
        }),
      },
      responses: {
        200: {
          description: 'The jobs',
          content: { 'application/json': { schema: z.object({ data: z.array(IngestJob) }) } },
        },
        ...problemResponses(400, 404),
      },
    }),
    async (c) => {
      const { name } = c.req.valid('param')
      assertCollectionAllowed(c.get('apiKey'), name)
      const collection = await requireCollection(db, name)
      const { includeDismissed, limit } = c.req.valid('query')
      const data = await listIngestJobs(db, collection, {
        includeDismissed: includeDismissed === 'true',
        limit,
      })
      return c.json({ data }, 200)
    },
  )

  const JobId = z.object({ id: z.string().uuid() })
  const jobResponse = (description: string) => ({
    200: { description, content: { 'application/json': { schema: IngestJob } } },
    ...problemResponses(400, 404, 409),
  })

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'post',
      path: '/v1/ingest-jobs/{id}/cancel',
      tags: ['ingest'],
      summary: 'Cancel an ingest job: a queued one at once, a running one at its next batch boundary',
      description: 'What a running job committed stays. 409 when the job has already finished.',
      request: { params: JobId },
      responses: jobResponse('The job as it is now (cancelRequested is true while a running job stops)'),
    }),
    async (c) => c.json(await cancelIngestJob(db, c.req.valid('param').id, c.get('apiKey')), 200),
  )

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'post',
      path: '/v1/ingest-jobs/{id}/retry',
      tags: ['ingest'],
      summary: 'Queue a failed or cancelled ingest job again, with the files it stored',
      description:
        'A new job (retryOf names the old one; the old one gets retriedAs and is dismissed). 409 when the job succeeded, is still running, was retried already, or its files are gone (INGEST_FILE_RETENTION_HOURS).',
      request: { params: JobId },
      responses: {
        202: { description: 'The new job, queued', content: { 'application/json': { schema: IngestJob } } },
        ...problemResponses(400, 404, 409),
      },
    }),
    async (c) => {
      const job = await retryIngestJob(db, c.req.valid('param').id, c.get('apiKey'))
      c.header('Location', `/v1/ingest-jobs/${job.id}`)
      return c.json(job, 202)
    },
  )

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'post',
      path: '/v1/ingest-jobs/{id}/dismiss',
      tags: ['ingest'],
      summary: 'Dismiss a finished ingest job: its problems have been read, lists leave it out',
      description: 'The job and its errors stay readable at GET /v1/ingest-jobs/{id}. 409 while it runs.',
      request: { params: JobId },
      responses: jobResponse('The job, with dismissedAt'),
    }),
    async (c) => c.json(await dismissIngestJob(db, c.req.valid('param').id, c.get('apiKey')), 200),
  )
}
