import { z } from '@hono/zod-openapi'

const Text = z.string().min(1).max(10_000)
const Name = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/)
  .optional()
  .openapi({ description: 'How reports and gates name the check; its type by default' })

const check = <T extends string, S extends z.ZodRawShape>(type: T, shape: S) =>
  z.object({ type: z.literal(type), name: Name, ...shape }).strict()

const LengthUnit = z.enum(['chars', 'words']).default('chars')

/**
 * What a case's output is checked for. Deterministic ones are computed from the output, its citations,
 * cost and latency; `similarity` compares with the case's reference; `rubric` asks the run's judge.
 */
export const Check = z
  .discriminatedUnion('type', [
    check('contains', { value: Text }),
    check('not-contains', { value: Text }),
    check('icontains', { value: Text }),
    check('regex', {
      // Patterns run on outputs of a few thousand characters; the length bound keeps them readable.
      pattern: z.string().min(1).max(500),
      flags: z
        .string()
        .regex(/^[imsu]{0,4}$/)
        .optional(),
    }),
    check('equals', { value: z.string().max(100_000) }),
    check('starts-with', { value: Text }),
    check('min-length', { value: z.number().int().min(0).max(1_000_000), unit: LengthUnit }),
    check('max-length', { value: z.number().int().min(0).max(1_000_000), unit: LengthUnit }),
    check('is-json', {}),
    check('json-schema', { schema: z.record(z.string(), z.unknown()) }),
    check('banned-phrases', { phrases: z.array(Text).min(1).max(500) }),
    check('citations-valid', {}),
    check('min-citations', { value: z.number().int().min(1).max(100) }),
    check('max-cost', { usd: z.number().min(0).max(1000) }),
    check('max-latency', { ms: z.number().int().min(1).max(3_600_000) }),
    check('similarity', {
      metric: z.enum(['cosine', 'rouge-l']),
      min: z.number().min(0).max(1),
    }),
    check('rubric', {
      rubric: z.string().min(1).max(4000),
      min: z.number().min(1).max(5).default(4),
    }),
  ])
  .openapi('EvalCheck', {
    description:
      'contains, not-contains, icontains, regex, equals, starts-with, min-length/max-length (chars or words), is-json, json-schema, banned-phrases, citations-valid, min-citations, max-cost, max-latency, similarity (cosine with the collection’s embedder, or rouge-l, against the reference), rubric (the judge’s 1–5 score)',
  })
export type Check = z.infer<typeof Check>

/** The name a check is reported and gated under. */
export function checkName(check: Check): string {
  return check.name ?? check.type
}
