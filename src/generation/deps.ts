import type { AppWiring } from '../app.js'
import { retrievalDepsFor } from '../retrieval/deps.js'
import { retrieve } from '../retrieval/retrieve.js'
import { ActiveTaskCache } from '../tasks/active-task-cache.js'
import { createModelRegistry } from './model-registry.js'
import { createOpenAIChatModelFactory } from './openai-chat-model.js'
import type { GenerationDeps } from './types.js'

/** Built once per app; each request adds its own logger (which carries the request id). */
export type SharedGenerationDeps = Omit<GenerationDeps, 'logger' | 'tasks'> & { tasks: ActiveTaskCache }

const built = new WeakMap<AppWiring, SharedGenerationDeps>()

/** One set per app, shared by /v1/generate and /v1/chat/completions (one client cache, one embedding cache). */
export function generationDepsFor(app: AppWiring): SharedGenerationDeps {
  let deps = built.get(app)
  if (!deps) {
    deps = createGenerationDeps(app)
    built.set(app, deps)
  }
  return deps
}

export function createGenerationDeps(app: AppWiring): SharedGenerationDeps {
  const { config } = app
  // Shared with /v1/retrieve: one embedder set and one query-embedding cache per app.
  const retrieval = retrievalDepsFor(app)
  return {
    db: app.db.pool,
    tasks: new ActiveTaskCache(app.db.pool, config.TASK_CACHE_TTL_MS),
    models: app.models ?? createModelRegistry(config),
    chatModels:
      app.chatModels ??
      createOpenAIChatModelFactory({
        timeoutMs: config.MODEL_TIMEOUT_MS,
        maxRetries: config.MODEL_MAX_RETRIES,
      }),
    retrieve: (input) => retrieve(retrieval, input),
    maxInputChars: config.MAX_GENERATION_INPUT_CHARS,
    metrics: app.metrics,
    generationLog: app.services.generationLog,
    rateLimiter: app.services.limiter,
  }
}
