import { z } from '@hono/zod-openapi'
import { CollectionName } from '../../../collections/collection-name.js'
import { VARIABLE_NAME } from '../../../generation/template.js'
import { RetrievalFilters } from '../../../retrieval/types.js'
import { TaskName } from '../../../tasks/task-definition.js'
import { CitationSchema as Citation } from '../../citation-schema.js'

const Variables = z
  .record(z.string().regex(VARIABLE_NAME, 'an identifier'), z.string().max(20_000))
  .openapi({ description: 'Values for the {{name}} placeholders of the task; inserted literally.' })

export const GenerateRequest = z
  .object({
    task: TaskName,
    // No max here on purpose: an input over MAX_GENERATION_INPUT_CHARS answers 413, not 400.
    input: z.string().openapi({
      description: 'The request text; also the retrieval query. Empty or only whitespace: 400.',
    }),
    variables: Variables.optional(),
    collection: CollectionName.optional().openapi({ description: "Overrides the task's collection" }),
    filters: RetrievalFilters.optional().openapi({
      description: "Narrow the task's retrieval filters: both apply, and a contradiction matches nothing.",
    }),
    stream: z.boolean().default(false).openapi({ description: 'Answer as server-sent events' }),
    dryRun: z
      .boolean()
      .default(false)
      .openapi({ description: 'Return the messages and routing decision without calling a model' }),
    subject: z.string().min(1).max(200).optional().openapi({
      description: 'Stable id (user, account) keying the A/B split; defaults to the request id.',
    }),
  })
  .strict()
  .openapi('GenerateRequest')
export type GenerateRequest = z.infer<typeof GenerateRequest>

const Route = z
  .object({
    model: z.string(),
    strategy: z.enum(['foundation', 'fine_tuned', 'split']),
    reason: z.string(),
    fellBack: z.boolean(),
  })
  .openapi('GenerationRoute')

const Usage = z
  .object({
    promptTokens: z.number().int(),
    completionTokens: z.number().int(),
    costUsd: z.number().nullable().openapi({ description: 'Null when the model has no configured price' }),
  })
  .openapi('GenerationUsage')

const TaskRef = z.object({ name: z.string(), version: z.number().int() })

export const GenerationResponse = z
  .object({
    id: z.string(),
    task: TaskRef,
    output: z.string(),
    json: z.unknown().optional().openapi({ description: 'The parsed output of a JSON task' }),
    citations: z.array(Citation),
    invalidCitations: z
      .array(z.number().int())
      .openapi({ description: 'Markers like [9] that name no supplied passage' }),
    route: Route,
    usage: Usage,
    latencyMs: z.number(),
  })
  .openapi('Generation')

export const DryRunResponse = z
  .object({
    dryRun: z.literal(true),
    task: TaskRef,
    messages: z.array(z.object({ role: z.enum(['system', 'user', 'assistant']), content: z.string() })),
    route: z.object({
      model: z.string(),
      strategy: z.enum(['foundation', 'fine_tuned', 'split']),
      reason: z.string(),
      fallbackModel: z.string().nullable(),
      template: z.enum(['foundation', 'fine_tuned']).openapi({
        description:
          'The template the messages were rendered from: systemPrompt, or route.fineTunedSystemPrompt',
      }),
    }),
    droppedPassages: z.number().int(),
    citations: z.array(Citation),
    invalidCitations: z.array(z.number().int()),
  })
  .openapi('GenerationDryRun')
