import { z } from '@hono/zod-openapi'
import { ApiKeyEnvName } from '../config.js'
import { ModelId } from '../generation/routing.js'

const price = (what: string) =>
  z
    .number()
    .min(0)
    .max(100_000)
    .openapi({ description: `USD per 1M ${what}; absent or null: not priced` })

const date = (description: string) => z.iso.date().openapi({ description, example: '2027-01-31' })

/** The fields POST sets and PATCH changes (PATCH takes null to clear one). */
const fieldShape = {
  kind: z.enum(['foundation', 'fine_tuned']),
  baseModel: ModelId.openapi({ description: 'The model a fine-tuned model was trained from' }),
  baseURL: z
    .url({ protocol: /^https?$/ })
    .max(2000)
    .openapi({
      description: 'OpenAI-compatible endpoint, e.g. http://vllm:8000/v1; absent: the default endpoint',
    }),
  apiKeyEnv: z
    .string()
    .superRefine((name, ctx) => {
      const checked = ApiKeyEnvName.safeParse(name)
      if (!checked.success) ctx.addIssue({ code: 'custom', message: checked.error.issues[0]!.message })
    })
    .openapi({
      description:
        'NAME of the environment variable holding the API key (the key itself is never stored); absent: the default key',
      example: 'AZURE_OPENAI_API_KEY',
    }),
  inputPricePer1M: price('prompt tokens'),
  outputPricePer1M: price('completion tokens'),
  trainingPricePer1M: price('trained tokens (tokens × epochs)'),
  fineTunedInputPricePer1M: price('prompt tokens of a model fine-tuned from this one'),
  fineTunedOutputPricePer1M: price('completion tokens of a model fine-tuned from this one'),
  hostingPerHour: z.number().min(0).max(100_000).openapi({
    description: 'USD per hour a deployed model costs whether called or not (Azure OpenAI fine-tunes)',
  }),
  contextWindow: z.number().int().min(512).max(100_000_000),
  trainingExampleTokenLimit: z.number().int().min(1).max(100_000_000),
  shutdownDate: date('The day the provider stops serving (or fine-tuning) the model'),
  pricesAsOf: date('The day the prices were read from the provider'),
  providerJobId: z
    .string()
    .min(1)
    .max(200)
    .openapi({ description: 'Provenance: the provider’s training job' }),
  datasetId: z.uuid().openapi({ description: 'Provenance: the Onbrand dataset it was trained on' }),
}

type Issue = { path: (string | number)[]; message: string }

/** Half a price would cost one side of a call as free: both or neither. */
function pricePairs(value: Record<string, unknown>): Issue[] {
  const issues: Issue[] = []
  for (const [input, output] of [
    ['inputPricePer1M', 'outputPricePer1M'],
    ['fineTunedInputPricePer1M', 'fineTunedOutputPricePer1M'],
  ] as const) {
    if (!(input in value) && !(output in value)) continue
    const a = value[input] ?? null
    const b = value[output] ?? null
    if ((a === null) !== (b === null))
      issues.push({ path: [a === null ? input : output], message: `set with ${a === null ? output : input}` })
  }
  return issues
}

export const RegisterModelRequest = z
  .object({ id: ModelId, ...fieldShape, kind: fieldShape.kind.default('foundation') })
  .partial({
    baseModel: true,
    baseURL: true,
    apiKeyEnv: true,
    inputPricePer1M: true,
    outputPricePer1M: true,
    trainingPricePer1M: true,
    fineTunedInputPricePer1M: true,
    fineTunedOutputPricePer1M: true,
    hostingPerHour: true,
    contextWindow: true,
    trainingExampleTokenLimit: true,
    shutdownDate: true,
    pricesAsOf: true,
    providerJobId: true,
    datasetId: true,
  })
  .strict()
  .superRefine((value, ctx) => {
    for (const issue of pricePairs(value)) ctx.addIssue({ code: 'custom', ...issue })
    if (value.kind === 'fine_tuned' && value.baseModel === undefined)
      ctx.addIssue({ code: 'custom', path: ['baseModel'], message: 'required for a fine_tuned model' })
  })
  .openapi('RegisterModelRequest')
export type RegisterModelRequest = z.infer<typeof RegisterModelRequest>

export const UpdateModelRequest = z
  .object(
    Object.fromEntries(
      Object.entries(fieldShape).map(([name, schema]) => [
        name,
        name === 'kind' ? schema.optional() : schema.nullable().optional(),
      ]),
    ) as {
      [K in keyof typeof fieldShape]: K extends 'kind'
        ? z.ZodOptional<(typeof fieldShape)[K]>
        : z.ZodOptional<z.ZodNullable<(typeof fieldShape)[K]>>
    },
  )
  .strict()
  .openapi('UpdateModelRequest')
export type UpdateModelRequest = z.infer<typeof UpdateModelRequest>

/** Price pairs checked against the row a PATCH lands on (the request alone may set one side). */
export { pricePairs }
