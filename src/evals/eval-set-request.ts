import { z } from '@hono/zod-openapi'
import { TaskName } from '../tasks/task-definition.js'
import { Check } from './checks.js'

export const MAX_EVAL_CASES = 2000
const MAX_INPUT_CHARS = 50_000

export const EvalCase = z
  .object({
    input: z.string().min(1).max(MAX_INPUT_CHARS),
    variables: z.record(z.string(), z.string().max(MAX_INPUT_CHARS)).default({}),
    subject: z.string().min(1).max(200).optional(),
    reference: z.string().max(100_000).optional().openapi({ description: 'What a good output looks like' }),
    checks: z.array(Check).max(50).default([]),
  })
  .strict()
  .openapi('EvalCase')
export type EvalCase = z.infer<typeof EvalCase>

export const EvalSetName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/)
  .openapi({
    description: 'Lowercase letters, digits, `_`, `.`, `-`; posting a name again makes its next version',
  })

export const SampleRequest = z
  .object({
    count: z.number().int().min(1).max(MAX_EVAL_CASES),
    review: z.enum(['approved', 'approved_or_corrected']).default('approved_or_corrected'),
    versions: z.array(z.number().int().min(1)).min(1).max(100).optional(),
    since: z.iso.datetime({ offset: true }).optional(),
    seed: z
      .union([z.string().min(1).max(100), z.number().int()])
      .default('0')
      .transform(String),
  })
  .strict()

/**
 * The body of POST /v1/eval-sets: the cases as a list, as JSONL text (one case per line; an upload
 * of a file), or sampled from the task's reviewed generations. `checks` apply to every case besides
 * each case's own.
 */
export const CreateEvalSetRequest = z
  .object({
    task: TaskName,
    name: EvalSetName,
    cases: z.array(EvalCase).min(1).max(MAX_EVAL_CASES).optional(),
    jsonl: z
      .string()
      .min(1)
      .max(20_000_000)
      .optional()
      .openapi({ description: 'One EvalCase per line (blank lines skipped); a bad line is named' }),
    sample: SampleRequest.optional().openapi({
      description:
        'Cases from approved (or corrected) generations never used for training; the corrected output, else the approved one, becomes the reference',
    }),
    checks: z.array(Check).max(50).default([]),
  })
  .strict()
  .refine((body) => [body.cases, body.jsonl, body.sample].filter((v) => v !== undefined).length === 1, {
    message: 'give exactly one of cases, jsonl and sample',
    path: ['cases'],
  })
  .openapi('CreateEvalSetRequest')
export type CreateEvalSetRequest = z.infer<typeof CreateEvalSetRequest>
