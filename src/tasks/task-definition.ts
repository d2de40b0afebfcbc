import { z } from '@hono/zod-openapi'
import { CollectionName } from '../collections/collection-name.js'
import { ReplyTokens } from '../generation/chat-model.js'
import { compileJsonSchema } from '../generation/json-output.js'
import { ModelRoute } from '../generation/routing.js'
import { templateVariables } from '../generation/template.js'
import { RETRIEVAL_LIMITS, RetrievalFilters } from '../retrieval/types.js'

export const TaskName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, 'lowercase letters, digits, ".", "-" and "_", at most 63')
  .openapi({ example: 'product-description' })

export const RetrievalPolicy = z
  .object({
    collection: CollectionName.optional().openapi({
      description: 'Default collection; a request may name another. Without either, no retrieval runs.',
    }),
    k: z.number().int().min(RETRIEVAL_LIMITS.kMin).max(RETRIEVAL_LIMITS.kMax).optional(),
    filters: RetrievalFilters.optional(),
    budgetTokens: z.number().int().min(RETRIEVAL_LIMITS.budgetMin).max(RETRIEVAL_LIMITS.budgetMax).optional(),
  })
  .strict()
  .openapi('RetrievalPolicy')
export type RetrievalPolicy = z.infer<typeof RetrievalPolicy>

export const TaskOutput = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('text') }).strict(),
    z
      .object({
        type: z.literal('json'),
        schema: z
          .record(z.string(), z.unknown())
          .openapi({ description: 'JSON Schema the output must match', type: 'object' }),
      })
      .strict(),
  ])
  .openapi('TaskOutput')
export type TaskOutput = z.infer<typeof TaskOutput>

export const TaskDefinition = z
  .object({
    description: z.string().max(2000).default(''),
    systemPrompt: z.string().min(1).max(100_000).openapi({
      description:
        'Template: {{context}} receives the retrieved passages; every other {{name}} is a variable.',
    }),
    retrieval: RetrievalPolicy.default({}),
    route: ModelRoute,
    output: TaskOutput.default({ type: 'text' }),
    temperature: z.number().min(0).max(2).optional(),
    maxTokens: ReplyTokens.optional(),
  })
  .strict()
  .superRefine((task, ctx) => {
    const fineTunedPrompt = task.route.fineTunedSystemPrompt
    if (fineTunedPrompt !== undefined) {
      const declared = new Set(templateVariables(task.systemPrompt))
      const extra = templateVariables(fineTunedPrompt).filter((name) => !declared.has(name))
      if (extra.length > 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['route', 'fineTunedSystemPrompt'],
          message: `uses variables systemPrompt does not declare: ${extra.join(', ')}`,
        })
      }
    }
    if (task.output.type !== 'json') return
    try {
      compileJsonSchema(task.output.schema)
    } catch (error) {
      ctx.addIssue({
        code: 'custom',
        path: ['output', 'schema'],
        message: `not a usable JSON Schema: ${(error as Error).message}`,
      })
    }
  })
  .openapi('TaskDefinition')
export type TaskDefinition = z.infer<typeof TaskDefinition>

/** A stored version as the API answers it (TaskVersion below). */
export const TaskVersionBody = z
  .object({
    task: z.string(),
    version: z.number().int(),
    active: z.boolean(),
    variables: z.array(z.string()).openapi({ description: 'Variables the system prompt declares' }),
    definition: TaskDefinition,
    createdAt: z.string(),
  })
  .openapi('TaskVersion')

export interface TaskVersion {
  task: string
  version: number
  active: boolean
  /** Variables the system prompt declares, derived from its placeholders. */
  variables: string[]
  definition: TaskDefinition
  createdAt: string
}

export function declaredVariables(definition: Pick<TaskDefinition, 'systemPrompt'>): string[] {
  return templateVariables(definition.systemPrompt)
}
