import type { AppDeps } from '../app.js'
import { createOpenAIEmbedderFactory } from '../embedding/openai-embedder.js'
import { QueryEmbeddingCache } from './query-embedding-cache.js'
import { type RetrievalDeps, retrievalSettingsFromConfig } from './retrieve.js'

const built = new WeakMap<AppDeps, RetrievalDeps>()

/** One set per app, so every caller shares one query-embedding cache. */
export function retrievalDepsFor(app: AppDeps): RetrievalDeps {
  let deps = built.get(app)
  if (deps === undefined) {
    const { config } = app
    deps = {
      db: app.db.pool,
      embedders: app.embedders ?? createOpenAIEmbedderFactory(config),
      queryEmbeddingCache: new QueryEmbeddingCache({
        maxEntries: config.QUERY_EMBEDDING_CACHE_SIZE,
        ttlMs: config.QUERY_EMBEDDING_CACHE_TTL_MS,
      }),
      settings: retrievalSettingsFromConfig(config),
      metrics: app.metrics,
    }
    built.set(app, deps)
  }
  return deps
}
