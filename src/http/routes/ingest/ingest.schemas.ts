import { z } from '@hono/zod-openapi'

const Mode = z.enum(['upsert', 'sync', 'backfill']).openapi({
  description:
    'upsert (default) adds and updates; sync also deletes documents missing from this upload; backfill embeds stored chunks',
})
const Kind = z.enum(['guideline', 'product'])
const Column = z.string().trim().min(1).max(200)

/** Files in one upload; more answer 400 naming this limit. */
export const MAX_UPLOAD_FILES = 10_000

const UploadedFile = z.instanceof(File).openapi({ type: 'string', format: 'binary' })

export const IngestUploadForm = z
  .object({
    files: z
      .union([UploadedFile, z.array(UploadedFile).max(MAX_UPLOAD_FILES)], {
        // A union's own message would be a bare "Invalid input"; the likely cause deserves its name.
        error: (issue) =>
          Array.isArray(issue.input) && issue.input.length > MAX_UPLOAD_FILES
            ? `at most ${MAX_UPLOAD_FILES} files per upload (got ${issue.input.length}); split the upload`
            : undefined,
      })
      .optional()
      .openapi({ description: `The files, at most ${MAX_UPLOAD_FILES} per upload` }),
    mode: Mode.optional(),
    kind: Kind.optional(),
    idColumn: Column.optional(),
    titleColumn: Column.optional(),
    textColumns: z.string().max(2000).optional().openapi({ description: 'Comma-separated column names' }),
  })
  .openapi('IngestUpload')
export type IngestUploadForm = z.infer<typeof IngestUploadForm>

export const IngestRecordsRequest = z
  .object({
    records: z.array(z.record(z.string(), z.unknown())).max(100_000).optional(),
    mode: Mode.optional(),
    idColumn: Column.optional(),
    titleColumn: Column.optional(),
    textColumns: z.array(Column).min(1).max(100).optional(),
  })
  .strict()
  .openapi('IngestRecords')
export type IngestRecordsRequest = z.infer<typeof IngestRecordsRequest>

export const JobAccepted = z
  .object({
    jobId: z.string().uuid(),
    status: z.string(),
    collection: z.string(),
    statusUrl: z.string(),
  })
  .openapi('IngestJobAccepted')

const Issue = z.object({ file: z.string(), row: z.number().int().optional(), message: z.string() })

export const IngestJob = z
  .object({
    id: z.string(),
    collection: z.string(),
    status: z
      .enum(['queued', 'running', 'succeeded', 'succeeded_with_errors', 'failed', 'cancelled'])
      .openapi({
        description:
          'succeeded: every file and row loaded; succeeded_with_errors: the rest loaded but some files or rows were rejected (see errors); failed: nothing loaded or the job could not run (see error); cancelled: stopped on request, keeping what it had committed',
      }),
    mode: z.string(),
    progress: z
      .object({
        phase: z.string(),
        files: z.object({ total: z.number().int(), done: z.number().int() }),
        documents: z.object({
          total: z.number().int(),
          done: z.number().int(),
          added: z.number().int(),
          updated: z.number().int(),
          unchanged: z.number().int(),
          deleted: z.number().int(),
        }),
        chunks: z.object({ embedded: z.number().int(), reused: z.number().int(), pending: z.number().int() }),
        errors: z.number().int(),
        etaSeconds: z.number().int().nullable(),
      })
      .passthrough()
      .nullable(),
    errors: z
      .array(Issue)
      .openapi({ description: 'Per-file and per-row problems; other files were still ingested' }),
    error: z.string().nullable().openapi({ description: 'Why the job failed, when it did' }),
    attempts: z.number().int(),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
    cancelRequested: z.boolean().openapi({ description: 'A cancel was asked for; a running job stops soon' }),
    dismissedAt: z
      .string()
      .nullable()
      .openapi({ description: 'When its problems were dismissed; lists leave it out after that' }),
    retryable: z.boolean().openapi({
      description: 'Failed or cancelled, files still stored, not retried yet: POST …/retry queues it again',
    }),
    retryOf: z.string().nullable().openapi({ description: 'The job this one retries' }),
    retriedAs: z.string().nullable().openapi({ description: 'The job that retried this one' }),
  })
  .openapi('IngestJob')
