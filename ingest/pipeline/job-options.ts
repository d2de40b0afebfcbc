import { z } from 'zod'

/** Stored with each job: how its files are read and chunked, fixed when the job is created. */
export const JobOptions = z
  .object({
    kind: z.enum(['guideline', 'product']).optional(),
    idColumn: z.string().min(1).max(200).optional(),
    titleColumn: z.string().min(1).max(200).optional(),
    textColumns: z.array(z.string().min(1).max(200)).min(1).max(100).optional(),
    maxTokens: z.number().int().min(32).max(8000),
    overlapTokens: z.number().int().min(0).max(2000),
    /** Set on backfills the worker queued by itself. */
    automatic: z.boolean().optional(),
    /** A retry: the failed or cancelled job it repeats (with a copy of its files). */
    retryOf: z.string().uuid().optional(),
  })
  .refine((o) => o.overlapTokens < o.maxTokens / 2, { message: 'overlap must be under half the chunk size' })
export type JobOptions = z.infer<typeof JobOptions>
