import { z } from '@hono/zod-openapi'
import { TaskName } from '../../../tasks/task-definition.js'
import { CitationSchema as Citation } from '../../citation-schema.js'

const ReviewStateSchema = z.enum(['unreviewed', 'approved', 'rejected', 'corrected'])

export const GenerationQuery = z.object({
  task: TaskName.optional(),
  taskVersion: z.coerce.number().int().min(1).max(2_147_483_647).optional().openapi({ type: 'integer' }),
  model: z.string().min(1).max(200).optional(),
  strategy: z.enum(['foundation', 'fine_tuned', 'split']).optional(),
  arm: z
    .enum(['foundation', 'fine_tuned'])
    .optional()
    .openapi({ description: 'The arm the route chose (a fallback keeps its arm)' }),
  status: z.enum(['succeeded', 'failed']).optional(),
  reviewState: ReviewStateSchema.optional(),
  subject: z.string().min(1).max(200).optional(),
  from: z.iso
    .datetime({ offset: true })
    .optional()
    .openapi({ description: 'Created at or after (ISO 8601)' }),
  to: z.iso.datetime({ offset: true }).optional().openapi({ description: 'Created before (ISO 8601)' }),
  limit: z.coerce.number().int().min(1).max(200).default(50).openapi({ type: 'integer' }),
  cursor: z
    .string()
    .min(1)
    .max(300)
    .optional()
    .openapi({ description: 'The nextCursor of the previous page' }),
})

const Route = z.object({
  model: z.string().nullable(),
  strategy: z.string().nullable(),
  arm: z.string().nullable(),
  reason: z.string().nullable(),
  fellBack: z.boolean(),
  template: z
    .string()
    .nullable()
    .openapi({ description: 'foundation: the systemPrompt; fine_tuned: route.fineTunedSystemPrompt' }),
})

export const GenerationSummarySchema = z
  .object({
    id: z.string(),
    createdAt: z.string(),
    task: z.object({ name: z.string(), version: z.number().int() }).nullable(),
    endpoint: z.string(),
    subject: z.string().nullable(),
    collection: z.string().nullable(),
    apiKeyId: z.string().nullable(),
    status: z.enum(['succeeded', 'failed']),
    error: z.string().nullable(),
    reviewState: z.string(),
    input: z.string().nullable(),
    variables: z.record(z.string(), z.string()).nullable(),
    output: z.string().nullable(),
    route: Route,
    usage: z.object({
      promptTokens: z.number().int().nullable(),
      completionTokens: z.number().int().nullable(),
      costUsd: z.number().nullable(),
    }),
    latencyMs: z.number().nullable(),
  })
  .openapi('GenerationSummary')

export const GenerationPage = z
  .object({
    data: z.array(GenerationSummarySchema),
    nextCursor: z
      .string()
      .nullable()
      .openapi({ description: 'Pass as `cursor` for the next page; null at the end' }),
  })
  .openapi('GenerationPage')

export const FeedbackSchema = z
  .object({
    apiKeyId: z.string().nullable(),
    rating: z.union([z.number().int(), z.enum(['up', 'down'])]).nullable(),
    approved: z.boolean().nullable(),
    correctedOutput: z.string().nullable(),
    comment: z.string().nullable(),
    labels: z.array(z.string()),
    revision: z.number().int(),
    updatedAt: z.string(),
  })
  .openapi('Feedback')

const StoredPassageSchema = z.object({
  documentId: z.number().int(),
  sourceId: z.string(),
  title: z.string(),
  kind: z.string(),
  headingPath: z.string(),
  text: z.string(),
  chunkIds: z.array(z.number().int()),
})

export const GenerationDetailSchema = GenerationSummarySchema.extend({
  messages: z
    .array(z.object({ role: z.string(), content: z.string() }))
    .nullable()
    .openapi({ description: 'Exactly as sent to the model; null once dropped by the retention sweep' }),
  passages: z
    .array(StoredPassageSchema)
    .nullable()
    .openapi({ description: '[n] in the prompt is index + 1' }),
  citations: z.array(Citation),
  invalidCitations: z.array(z.number().int()),
  promptDroppedAt: z.string().nullable(),
  feedback: z.array(FeedbackSchema),
}).openapi('GenerationDetail')

export const GenerationIdParam = z.object({ id: z.uuid() })

export const FeedbackRequestSchema = z
  .object({
    rating: z
      .union([z.number().int().min(1).max(5), z.enum(['up', 'down'])])
      .optional()
      .openapi({ description: '1 to 5, or a thumb: "up" / "down"' }),
    approved: z.boolean().optional().openapi({ description: 'review or admin keys only' }),
    correctedOutput: z
      .string()
      .min(1)
      .max(100_000)
      .optional()
      .openapi({ description: 'review or admin keys only; a JSON task’s must match its schema' }),
    comment: z.string().max(4000).optional(),
    labels: z.array(z.string().trim().min(1).max(64)).max(20).optional(),
  })
  .strict()
  .refine((body) => Object.keys(body).length > 0, { message: 'send at least one field' })
  .openapi('FeedbackRequest')

export const FeedbackResponseSchema = z
  .object({ feedback: FeedbackSchema, generation: GenerationSummarySchema })
  .openapi('FeedbackResult')

export const ClaimRequestSchema = z
  .object({ task: TaskName, count: z.number().int().min(1).max(50).default(10) })
  .strict()
  .openapi('ReviewClaimRequest')

export const ClaimResponseSchema = z
  .object({
    items: z.array(
      z.object({
        generationId: z.string(),
        leasedUntil: z.string(),
        task: z.object({ name: z.string(), version: z.number().int() }),
        input: z.string().nullable(),
        variables: z.record(z.string(), z.string()).nullable(),
        conversation: z.array(z.object({ role: z.string(), content: z.string() })),
        passages: z.array(StoredPassageSchema),
        output: z.string().nullable(),
      }),
    ),
  })
  .openapi('ReviewClaim')

export const ReviewQueueOverviewSchema = z
  .object({
    tasks: z.array(
      z.object({
        name: z.string(),
        waiting: z.number().int().openapi({ description: 'Claimable: held by no one' }),
        heldByYou: z.number().int().openapi({ description: 'Leased to this key now' }),
      }),
    ),
    you: z.object({
      reviewed: z.number().int(),
      approved: z.number().int(),
      rejected: z.number().int(),
      corrected: z.number().int(),
      today: z.number().int().openapi({ description: 'Verdicts given or changed since midnight UTC' }),
    }),
  })
  .openapi('ReviewQueueOverview')
