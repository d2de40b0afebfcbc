import type pg from 'pg'
import type { Queryable } from '../../src/db/transaction.js'
import { createOpenAIEmbedderFactory } from '../../src/embedding/openai-embedder.js'
import { QueryEmbeddingCache } from '../../src/retrieval/query-embedding-cache.js'
import type { RetrievalDeps, RetrievalSettings } from '../../src/retrieval/retrieve.js'

export const testRetrievalSettings: RetrievalSettings = {
  minCandidates: 40,
  efSearchDefault: 64,
  efSearchMax: 400,
  maxScanTuples: 20_000,
  bm25MaxCandidates: 0,
}

/** Retrieval wired to the OpenAI-wire stub through the real embedder (and so the real LangChain client). */
export function stubRetrievalDeps(
  db: Queryable | pg.Pool,
  stubUrl: string | undefined,
  overrides: Partial<RetrievalDeps> = {},
): RetrievalDeps {
  const embedders = createOpenAIEmbedderFactory({
    OPENAI_BASE_URL: stubUrl,
    OPENAI_API_KEY: stubUrl ? 'test' : undefined,
    EMBEDDING_TIMEOUT_MS: 10_000,
    EMBEDDING_BATCH_SIZE: 64,
  })
  return {
    db,
    embedders,
    queryEmbeddingCache: new QueryEmbeddingCache({ maxEntries: 100, ttlMs: 60_000 }),
    settings: testRetrievalSettings,
    ...overrides,
  }
}
