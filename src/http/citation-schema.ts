import { z } from '@hono/zod-openapi'

/** A numbered passage of a generation's prompt and whether the answer cited it; shared by every route that returns one. */
export const CitationSchema = z
  .object({
    n: z.number().int(),
    cited: z.boolean(),
    documentId: z.number().int(),
    sourceId: z.string(),
    title: z.string(),
    headingPath: z.string(),
    chunkIds: z.array(z.number().int()),
  })
  .openapi('Citation')
