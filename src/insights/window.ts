import { z } from '@hono/zod-openapi'

/** `30d`: the days an insights report looks back over, 1 to 365. */
export const InsightsWindow = z
  .string()
  .regex(/^[1-9][0-9]{0,2}d$/, 'days as 30d, from 1d to 365d')
  .default('30d')
  .transform((value) => Number(value.slice(0, -1)))
  .refine((days) => days <= 365, 'at most 365d')
  .openapi({
    description: 'Days to look back over, as 30d (1d–365d)',
    example: '30d',
    type: 'string',
    pattern: '^[1-9][0-9]{0,2}d$',
    default: '30d',
  })
