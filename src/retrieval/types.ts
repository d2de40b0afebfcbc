import { z } from '@hono/zod-openapi'

/** Filters a caller may put on retrieval; unknown keys are rejected (a typo must not silently match all). */
export const RetrievalFilters = z
  .object({
    kind: z.enum(['guideline', 'product']).optional(),
    sourcePrefix: z.string().min(1).max(1024).optional(),
    metadata: z
      .record(z.string().max(200), z.json())
      .optional()
      .openapi({ description: 'JSON containment on document metadata, e.g. {"locale": "en-AU"}' }),
  })
  .strict()
  .openapi('RetrievalFilters')
export type RetrievalFilters = z.infer<typeof RetrievalFilters>

export interface RetrieveInput {
  collection: string
  query: string
  /** Passages wanted before packing (default 8, 1–50). */
  k?: number
  filters?: RetrievalFilters
  /** Token budget the packed passages must fit in. */
  budgetTokens?: number
  /** pgvector `hnsw.ef_search` for this query, within server bounds. */
  efSearch?: number
  signal?: AbortSignal
}

export interface PassageScores {
  vector: number | null
  lexical: number | null
  fused: number
}

/** One packed passage: one or more adjacent chunks of one document. */
export interface Passage {
  documentId: number
  sourceId: string
  title: string
  kind: 'guideline' | 'product'
  headingPath: string
  text: string
  chunkIds: number[]
  tokens: number
  metadata: Record<string, unknown>
  scores: PassageScores
}

export interface RetrievalResult {
  mode: 'hybrid' | 'lexical'
  passages: Passage[]
  usedTokens: number
}
