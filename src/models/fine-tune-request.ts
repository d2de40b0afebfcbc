import { z } from '@hono/zod-openapi'
import { ModelId } from '../generation/routing.js'

const hyper = (max: number, integer: boolean) =>
  z.union([z.literal('auto'), integer ? z.number().int().min(1).max(max) : z.number().gt(0).max(max)])

export const FineTuneHyperparameters = z
  .object({
    n_epochs: hyper(50, true).optional(),
    batch_size: hyper(256, true).optional(),
    learning_rate_multiplier: hyper(50, false).optional(),
  })
  .strict()
  .openapi('FineTuneHyperparameters')

/** The share the staged split sends to a new fine-tuned model unless told otherwise. */
export const DEFAULT_STAGED_SHARE = 0.1

const Share = z.number().min(0).max(1).openapi({
  description: 'Share of subjects the staged split version sends to the fine-tuned model (default 0.1)',
})

export const CreateFineTuneRequest = z
  .object({
    datasetId: z.uuid(),
    baseModel: ModelId.openapi({ description: 'A registered model to fine-tune (its endpoint trains it)' }),
    suffix: z
      .string()
      .regex(/^[a-z0-9-]{1,40}$/, 'lowercase letters, digits and hyphens, at most 40')
      .optional()
      .openapi({ description: 'Part of the fine-tuned model’s name' }),
    hyperparameters: FineTuneHyperparameters.optional(),
    maxBudgetUsd: z.number().min(0).max(1_000_000).openapi({
      description: 'Refused (409) before any upload when the training estimate is over it, or unknown',
    }),
    share: Share.optional(),
  })
  .strict()
  .openapi('CreateFineTuneRequest')
export type CreateFineTuneRequest = z.infer<typeof CreateFineTuneRequest>

export const StageModelRequest = z
  .object({
    model: ModelId.openapi({ description: 'A registered model, e.g. one fine-tuned elsewhere' }),
    share: Share.optional(),
  })
  .strict()
  .openapi('StageModelRequest')
export type StageModelRequest = z.infer<typeof StageModelRequest>
