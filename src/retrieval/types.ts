import { z } from '@hono/zod-openapi'
import { CollectionName } from '../collections/collection-name.js'

/** Bounds on a metadata filter: what stored metadata holds is shallow, and deeper values only cost. */
export const METADATA_FILTER_LIMITS = { maxDepth: 16, maxChars: 10_000 } as const

/** Depth of a JSON value (a scalar is 0), walked without recursion so no nesting can overflow the stack. */
function jsonDepthOver(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]]
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!
    if (typeof current !== 'object' || current === null) continue
    if (depth + 1 > limit) return true
    for (const child of Object.values(current)) stack.push([child, depth + 1])
  }
  return false
}

function checkMetadataSize(metadata: Record<string, unknown>, ctx: z.RefinementCtx): void {
  const { maxDepth, maxChars } = METADATA_FILTER_LIMITS
  if (jsonDepthOver(metadata, maxDepth)) {
    ctx.addIssue({ code: 'custom', message: `must not nest deeper than ${maxDepth} levels` })
  } else if (JSON.stringify(metadata).length > maxChars) {
    ctx.addIssue({ code: 'custom', message: `must be at most ${maxChars} characters as JSON` })
  }
}

/** Filters a caller may put on retrieval; unknown keys are rejected (a typo must not silently match all). */
export const RetrievalFilters = z
  .object({
    kind: z.enum(['guideline', 'product']).optional(),
    sourcePrefix: z.string().min(1).max(1024).optional(),
    metadata: z
      // Not z.json(): it is recursive and the OpenAPI generator recurses forever on it.
      .record(
        z.string().max(200),
        z.union([
          z.string(),
          z.number(),
          z.boolean(),
          z.null(),
          z.array(z.unknown()),
          z.record(z.string(), z.unknown()),
        ]),
      )
      .superRefine(checkMetadataSize)
      .optional()
      .openapi({
        description: `JSON containment on document metadata, e.g. {"locale": "en-AU"}; at most ${METADATA_FILTER_LIMITS.maxDepth} levels deep and ${METADATA_FILTER_LIMITS.maxChars} characters as JSON`,
      }),
  })
  .strict()
  .openapi('RetrievalFilters')
export type RetrievalFilters = z.infer<typeof RetrievalFilters>

/** Bounds every caller is held to, over HTTP or in-process (generation calls `retrieve` directly). */
export const RETRIEVAL_LIMITS = {
  queryMaxChars: 2000,
  kMin: 1,
  kMax: 100,
  kDefault: 8,
  budgetMin: 1,
  budgetMax: 32_000,
  budgetDefault: 4000,
  efSearchMin: 10,
  efSearchMax: 1000,
} as const

const L = RETRIEVAL_LIMITS

/** The input rules of `retrieve`, shared by the HTTP body schema so both paths reject the same things. */
export const RetrieveRequest = z
  .object({
    collection: CollectionName,
    query: z
      .string()
      .trim()
      .min(1, 'must not be empty')
      .max(L.queryMaxChars, `must be at most ${L.queryMaxChars} characters`),
    k: z.number().int().min(L.kMin).max(L.kMax).default(L.kDefault).openapi({
      description: 'How many chunks (or distinct documents, see kUnit) to return before packing.',
    }),
    kUnit: z
      .enum(['chunks', 'documents'])
      .default('chunks')
      .openapi({
        description:
          '`documents`: k counts distinct documents; their chunks ranked before the first chunk of a ' +
          '(k+1)-th document are kept (merged and packed as usual).',
      }),
    searchSyntax: z
      .boolean()
      .optional()
      .openapi({
        description:
          'true: obey web-search syntax ("phrase", -word, or; other words all required) in both arms (the ' +
          'vector arm also returns only matching chunks), even if nothing matches. false: the query is plain ' +
          'words. Absent: syntax is recognised from quotes or a leading minus only (a plain " or " stays a ' +
          'word), and both arms fall back to plain words when no chunk within the filters matches.',
      }),
    lexicalWeight: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .openapi({
        description:
          "The full-text (BM25) arm's weight in fusion, 0–1; the vector arm gets the rest (at 1 it does not run: " +
          'lexical mode, no query embedding; at 0 the BM25 arm does not run: vector mode, unless the ' +
          "collection has no embeddings yet). Default: the collection's.",
      }),
    filters: RetrievalFilters.optional(),
    budgetTokens: z.number().int().min(L.budgetMin).max(L.budgetMax).default(L.budgetDefault),
    efSearch: z.number().int().min(L.efSearchMin).max(L.efSearchMax).optional().openapi({
      description: 'HNSW search breadth for this query (pgvector hnsw.ef_search), up to the server maximum.',
    }),
  })
  .strict()
  .openapi('RetrieveRequest')
export type RetrieveRequest = z.infer<typeof RetrieveRequest>

export interface RetrieveInput {
  collection: string
  query: string
  /** Chunks (or documents, see kUnit) wanted before packing (default 8, 1–100). */
  k?: number
  kUnit?: 'chunks' | 'documents'
  searchSyntax?: boolean
  lexicalWeight?: number
  filters?: RetrievalFilters
  /**
   * Filters fixed by whoever set the call up (a task's retrieval policy). `filters` can only narrow
   * them: a passage must satisfy both sets, and sets that contradict each other match nothing.
   */
  scopeFilters?: RetrievalFilters
  /** Token budget the packed passages must fit in. */
  budgetTokens?: number
  /** pgvector `hnsw.ef_search` for this query, within server bounds. */
  efSearch?: number
  signal?: AbortSignal
}

/**
 * Scores of the best chunk in a passage: `vector` is cosine similarity (1 − distance), `lexical` the
 * BM25 score, `fused` the weighted sum of both arms' z-scores. A null means that arm did not return
 * the chunk.
 */
interface PassageScores {
  vector: number | null
  lexical: number | null
  fused: number
}

/** Best (lowest) rank of the passage's chunks in each arm's list and in the fused list, from 1. */
interface PassageRanks {
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
  ranks: PassageRanks
}

export interface RetrievalResult {
  /** Which arms ran: both, BM25 only (no embeddings, or lexical weight 1), vector only (lexical weight 0). */
  mode: 'hybrid' | 'lexical' | 'vector'
  passages: Passage[]
  usedTokens: number
}
