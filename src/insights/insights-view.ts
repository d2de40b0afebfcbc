import { z } from '@hono/zod-openapi'

const Usd = z
  .number()
  .nullable()
  .openapi({ description: 'USD; null when a price is unknown (never 0 for unknown)' })
const IntervalSchema = z.object({ low: z.number(), high: z.number() }).nullable()

const Stats = {
  calls: z.number().int(),
  failed: z.number().int(),
  fellBack: z.number().int(),
  fallbackRate: z.number().nullable(),
  costUsd: Usd,
  costPerCallUsd: Usd,
  unpricedCalls: z
    .number()
    .int()
    .openapi({ description: 'Calls that used tokens on a model without a price' }),
  meanPromptTokens: z.number().nullable(),
  meanCompletionTokens: z.number().nullable(),
  latencyMs: z.object({ p50: z.number().nullable(), p95: z.number().nullable() }),
  review: z.object({
    reviewed: z.number().int(),
    approved: z.number().int(),
    rejected: z.number().int(),
    corrected: z.number().int(),
    approvalRate: z.number().nullable(),
    approvalInterval: IntervalSchema.openapi({
      description: '95% Wilson score interval of the approval rate',
    }),
    correctionRate: z.number().nullable(),
  }),
}

const ModelEvaluation = z
  .object({
    runId: z.string(),
    createdAt: z.string(),
    arm: z.string(),
    promptVariant: z.enum(['as_served', 'fine_tuned']),
    passRate: z.number().nullable(),
    interval: IntervalSchema,
    decided: z.number().int(),
    judgeMean: z.number().nullable(),
  })
  .openapi('InsightsModelEvaluation')

const ModelFacts = {
  kind: z.enum(['foundation', 'fine_tuned']).nullable(),
  priced: z.boolean(),
  shutdownDate: z.string().nullable(),
  daysUntilShutdown: z.number().int().nullable(),
}

const Composition = z.object({
  template: z.enum(['foundation', 'fine_tuned']),
  sampled: z.number().int(),
  meanTokens: z.object({ instructions: z.number(), passages: z.number(), input: z.number() }).nullable(),
})

const Tokens = z.object({ prompt: z.number(), completion: z.number() }).nullable()

export const Decision = z.enum([
  'not_enough_data',
  'keep_prompting',
  'collect_examples',
  'try_fine_tune',
  'promote',
  'roll_back',
  'never_breaks_even',
])

export const TaskInsightsSchema = z
  .object({
    task: z.string(),
    activeVersion: z.number().int(),
    generatedAt: z.string(),
    window: z.object({
      days: z.number().int(),
      from: z.string(),
      to: z.string(),
      coveredDays: z.number().int().openapi({
        description:
          'Days the volume is averaged over: the window, or fewer when the first call in it is younger',
      }),
    }),
    volume: z.object({
      calls: z.number().int(),
      failed: z.number().int(),
      callsPerDay: z.number(),
      projectedMonthly: z.number().int().openapi({ description: 'calls ÷ coveredDays × 30' }),
      perDay: z.array(
        z.object({ date: z.string(), calls: z.number().int(), failed: z.number().int(), costUsd: Usd }),
      ),
    }),
    arms: z.array(
      z.object({
        arm: z.enum(['foundation', 'fine_tuned']),
        ...Stats,
        models: z.array(
          z.object({
            model: z.string().nullable(),
            ...ModelFacts,
            ...Stats,
            evaluation: ModelEvaluation.nullable().openapi({ description: 'Its latest finished evaluation' }),
          }),
        ),
      }),
    ),
    promptComposition: z.object({
      byTemplate: z.array(Composition),
      template: z.object({
        foundationTokens: z.number().int(),
        fineTunedTokens: z.number().int().nullable(),
        savedTokens: z.number().int().nullable(),
      }),
      savedUsdPerCall: Usd,
    }),
    examples: z.object({
      clean: z.number().int(),
      approved: z.number().int(),
      corrected: z.number().int(),
      target: z.number().int(),
      missing: z.number().int(),
      latestDataset: z
        .object({
          id: z.string(),
          status: z.enum(['invalid', 'not_ready', 'ready']),
          baseModel: z.string(),
          train: z.number().int(),
          validation: z.number().int(),
          estimatedTrainingUsd: Usd,
        })
        .nullable(),
    }),
    stability: z.object({
      versionsInWindow: z.number().int(),
      requirementChanges: z.number().int().openapi({
        description:
          'Versions in the window whose systemPrompt or output format differ from the version before',
      }),
      changesPerWeek: z.number(),
      versions: z.array(
        z.object({
          version: z.number().int(),
          createdAt: z.string(),
          change: z.enum(['first', 'requirements', 'other']),
        }),
      ),
    }),
    models: z.array(
      z.object({ id: z.string(), role: z.enum(['foundation', 'candidate', 'seen']), ...ModelFacts }),
    ),
    candidate: z
      .object({
        model: z.string(),
        state: z.enum(['live', 'staged']),
        strategy: z.enum(['fine_tuned', 'split']),
        version: z.number().int(),
      })
      .nullable(),
    evaluation: z
      .object({
        runId: z.string(),
        candidate: z.object({ arm: z.string(), rate: z.number().nullable(), decided: z.number().int() }),
        foundation: z.object({ arm: z.string(), rate: z.number().nullable(), decided: z.number().int() }),
      })
      .nullable(),
    breakEven: z.object({
      priced: z.boolean(),
      blockedBy: z.array(z.string()),
      trainingUnknownBecause: z.string().nullable(),
      baseCostPerCallUsd: Usd,
      fineTunedCostPerCallUsd: Usd,
      hostingPerCallUsd: Usd,
      savingPerCallUsd: Usd,
      monthlySavingUsd: Usd,
      trainingCostUsd: Usd,
      trainingCostSource: z.enum(['dataset', 'estimate', 'none']),
      paybackCalls: z.number().int().nullable(),
      paybackDays: z.number().nullable(),
      fineTunedModel: z.string(),
      baseTokens: Tokens,
      fineTunedTokens: Tokens,
    }),
    verdict: z.object({
      decision: Decision,
      summary: z.string(),
      reasons: z.array(
        z.object({
          code: z.string(),
          message: z.string(),
          numbers: z.record(z.string(), z.union([z.number(), z.string(), z.boolean(), z.null()])),
        }),
      ),
    }),
  })
  .openapi('TaskInsights')
export type TaskInsights = z.infer<typeof TaskInsightsSchema>
