import { z } from '@hono/zod-openapi'
import { ModelId } from '../generation/routing.js'

export const ArmName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/)

export const EvalArm = z
  .object({
    name: ArmName.optional().openapi({
      description: 'How reports and gates name the arm; arm1, arm2, … by default',
    }),
    taskVersion: z.number().int().min(1).optional().openapi({ description: 'The active version by default' }),
    model: ModelId.optional().openapi({
      description: "Any model Onbrand can call; the version's foundationModel by default",
    }),
    promptVariant: z.enum(['as_served', 'fine_tuned']).default('as_served').openapi({
      description: "as_served: the version's systemPrompt; fine_tuned: its route.fineTunedSystemPrompt",
    }),
    retrieval: z.enum(['on', 'off']).default('on'),
  })
  .strict()
  .openapi('EvalArm')
export type EvalArm = z.infer<typeof EvalArm>

export const CreateEvalRunRequest = z
  .object({
    evalSetId: z.uuid(),
    arms: z.array(EvalArm).min(1).max(6),
    judge: z
      .object({ model: ModelId })
      .strict()
      .optional()
      .openapi({ description: 'The model that scores rubric checks (1–5 with reasons)' }),
    repetitions: z
      .number()
      .int()
      .min(1)
      .max(10)
      .optional()
      .openapi({ description: 'Runs of each case and arm: 3 with a judge, 1 without, by default' }),
    budgetUsd: z.number().min(0).max(100_000).optional().openapi({
      description: 'The run stops before the estimated spend (model and judge calls) would pass this',
    }),
    baselineRunId: z
      .uuid()
      .optional()
      .openapi({ description: 'A run of the same set to report the difference from' }),
    concurrency: z.number().int().min(1).max(16).default(4),
  })
  .strict()
  .openapi('CreateEvalRunRequest')
export type CreateEvalRunRequest = z.infer<typeof CreateEvalRunRequest>

/** An arm as the run stores it: every default filled in. */
export interface ResolvedArm {
  name: string
  taskVersion: number
  model: string
  promptVariant: 'as_served' | 'fine_tuned'
  retrieval: 'on' | 'off'
}

/** What the run stores as its params. */
export interface EvalRunParams {
  task: string
  arms: ResolvedArm[]
  judge: { model: string } | null
  repetitions: number
  budgetUsd: number | null
  concurrency: number
}
