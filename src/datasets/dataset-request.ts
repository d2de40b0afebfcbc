import { z } from '@hono/zod-openapi'

/** The body of POST /v1/tasks/{name}/datasets, and the options of `onbrand datasets build`. */
export const BuildDatasetRequest = z
  .object({
    versions: z.array(z.number().int().min(1)).min(1).max(100).optional(),
    since: z.iso.datetime({ offset: true }).optional(),
    review: z.enum(['approved', 'approved_or_corrected']).default('approved_or_corrected'),
    minRating: z.number().min(1).max(5).optional().openapi({ description: 'Average rating at least this' }),
    promptVariant: z.enum(['as_served', 'fine_tuned']).default('as_served').openapi({
      description:
        'as_served: the messages exactly as sent; fine_tuned: route.fineTunedSystemPrompt rendered with the stored passages and variables',
    }),
    validationShare: z.number().min(0).max(0.5).default(0.1),
    seed: z
      .union([z.string().min(1).max(100), z.number().int()])
      .default('0')
      .transform(String),
    baseModel: z.string().min(1).max(200).optional().openapi({
      description:
        "The model to fine-tune (tokenizer, example limit, price); the task's foundation model by default",
    }),
  })
  .strict()
  .openapi('BuildDatasetRequest')

export type BuildDatasetRequest = z.infer<typeof BuildDatasetRequest>
