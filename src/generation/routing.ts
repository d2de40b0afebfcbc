import { createHash } from 'node:crypto'
import { z } from '@hono/zod-openapi'

export const ModelId = z.string().trim().min(1).max(200)

export const ModelRoute = z
  .object({
    strategy: z.enum(['foundation', 'fine_tuned', 'split']),
    foundationModel: ModelId,
    fineTunedModel: ModelId.optional(),
    share: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .openapi({ description: 'split: share of subjects sent to the fine-tuned model' }),
    fineTunedSystemPrompt: z.string().min(1).max(100_000).optional().openapi({
      description:
        'The shorter template used when the request goes to the fine-tuned model (fine-tuning teaches style, so it need not restate the rules); it still takes {{context}}. Its variables must be declared by systemPrompt. Falls back to systemPrompt when the fine-tuned model fails.',
    }),
  })
  .strict()
  .superRefine((route, ctx) => {
    if (route.strategy !== 'foundation' && route.fineTunedModel === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['fineTunedModel'],
        message: `required for strategy ${route.strategy}`,
      })
    }
    if (route.strategy === 'split' && route.share === undefined) {
      ctx.addIssue({ code: 'custom', path: ['share'], message: 'required for strategy split' })
    }
  })
  .openapi('ModelRoute')
export type ModelRoute = z.infer<typeof ModelRoute>

export interface RouteDecision {
  strategy: ModelRoute['strategy']
  model: string
  /** Set when the chosen model is the fine-tuned one: where to go if it fails. */
  fallbackModel?: string
  reason: string
}

/**
 * A stable number in [0, 1) for a task and subject: the same subject always lands in the same arm of
 * a split, and different tasks split independently. 48 bits keep the division exact in a double.
 */
export function splitBucket(taskName: string, key: string): number {
  const digest = createHash('sha256').update(`${taskName}:${key}`).digest()
  return digest.readUIntBE(0, 6) / 2 ** 48
}

export function decideRoute(route: ModelRoute, taskName: string, splitKey: string): RouteDecision {
  const fineTuned = route.fineTunedModel
  if (route.strategy === 'foundation' || fineTuned === undefined) {
    return { strategy: route.strategy, model: route.foundationModel, reason: 'foundation: task route' }
  }
  if (route.strategy === 'fine_tuned') {
    return {
      strategy: 'fine_tuned',
      model: fineTuned,
      fallbackModel: route.foundationModel,
      reason: 'fine_tuned: task route',
    }
  }
  const share = route.share ?? 0
  const bucket = splitBucket(taskName, splitKey)
  const shown = bucket.toFixed(4)
  if (bucket < share) {
    return {
      strategy: 'split',
      model: fineTuned,
      fallbackModel: route.foundationModel,
      reason: `split: bucket ${shown} < share ${share}, fine-tuned arm`,
    }
  }
  return {
    strategy: 'split',
    model: route.foundationModel,
    reason: `split: bucket ${shown} >= share ${share}, foundation arm`,
  }
}

export function fallbackReason(decision: RouteDecision, failure: string): string {
  return `${decision.reason}; fine-tuned model failed (${failure}), fell back to foundation`
}
