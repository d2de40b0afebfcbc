import type { Logger } from 'pino'
import type { IngestDeps } from '../ingest/pipeline/deps.js'
import { ApiKeyCache } from './auth/authenticate.js'
import { RateLimiter } from './auth/rate-limiter.js'
import { type Config, loadConfig } from './config.js'
import { loadMigrations, type Migration, openMigratedDatabase } from './db/migrate.js'
import type { Database } from './db/pool.js'
import type { EmbedderFactory } from './embedding/embedder.js'
import { createOpenAIEmbedderFactory } from './embedding/openai-embedder.js'
import { EVAL_JOB_KIND } from './evals/create-eval-run.js'
import { evalRunHandler } from './evals/run-eval.js'
import type { ChatModelFactory } from './generation/chat-model.js'
import { ModelCircuitBreakers } from './generation/circuit-breaker.js'
import { GenerationLogWriter } from './generation/generation-log.js'
import { createModelRegistry, type ModelRegistry } from './generation/model-registry.js'
import { createOpenAIChatModelFactory } from './generation/openai-chat-model.js'
import type { SharedGenerationDeps } from './generation/types.js'
import type { JobHandlers } from './jobs/job-handler.js'
import { sleep } from './lib/sleep.js'
import { createLogger } from './logger.js'
import { FINE_TUNE_JOB_KIND } from './models/fine-tunes.js'
import { createFineTuningClient } from './models/fine-tuning-client.js'
import { fineTuneHandler } from './models/follow-fine-tune.js'
import { createMetrics, type Metrics } from './observability/metrics.js'
import { Bm25MemoryIndexes } from './retrieval/bm25-memory-index.js'
import { CollectionCache } from './retrieval/collection-cache.js'
import { QueryEmbeddingCache } from './retrieval/query-embedding-cache.js'
import { type RetrievalDeps, retrievalSettingsFromConfig, retrieve } from './retrieval/retrieve.js'
import { ActiveTaskCache } from './tasks/active-task-cache.js'

/** The outside world, as tests replace it: model endpoints and prices, chat models, embedders, metrics, clock. */
export interface ServiceOverrides {
  metrics?: Metrics
  models?: ModelRegistry
  chatModels?: ChatModelFactory
  embedders?: EmbedderFactory
  now?: () => number
}

export interface BuildServicesInput {
  config: Config
  db: Database
  logger: Logger
  /** The migrations this build knows (readiness compares the database with them); read from migrations/ when absent. */
  migrations?: Migration[]
  /** Node process metrics (CPU, memory, event loop) on /metrics; once per process, so the server asks for them. */
  processMetrics?: boolean
  overrides?: ServiceOverrides
}

/**
 * Every long-lived service of a process, each built once. The app, the server, the job worker and every
 * CLI command take what they need from here; nothing else builds a service or reads configuration.
 */
export interface Services {
  config: Config
  db: Database
  logger: Logger
  migrations: Migration[]
  metrics: Metrics
  models: ModelRegistry
  chatModels: ChatModelFactory
  embedders: EmbedderFactory
  /** The clock of the time-based caches (task versions, query embeddings); services that need "now" take it here. */
  now: () => number
  /** API key rows, cached briefly so authentication costs no statement per request. */
  apiKeys: ApiKeyCache
  /** Per-key request and token limits, shared by every instance through the database. */
  rateLimiter: RateLimiter
  /** The generations table, written in batches off the request path. */
  generationLog: GenerationLogWriter
  /** Active task versions, cached briefly; writes through this process invalidate them. */
  tasks: ActiveTaskCache
  /** Hybrid retrieval with one query-embedding cache. */
  retrieval: RetrievalDeps
  /** Generation, less the per-request logger. */
  generation: SharedGenerationDeps
  /** Ingestion jobs (the pipeline and the worker). */
  ingest: IngestDeps
  /**
   * Handlers of the job kinds other than ingest, by kind: the worker (`onbrand worker`, or the one in
   * the API process) runs them from the one job table.
   */
  jobHandlers: JobHandlers
  /** Write everything queued (generation rows, token charges) now. */
  flush(): Promise<void>
  /**
   * Write what is queued and stop the timers; call before closing the database (which stays the
   * caller's: it opened it).
   */
  close(): Promise<void>
}

/**
 * Build every service once. A new service is built here, from the config, the database and the services
 * it needs, and added to Services; its own module stays a plain constructor or function.
 */
export function buildServices(input: BuildServicesInput): Services {
  const { config, db, logger } = input
  const overrides = input.overrides ?? {}
  const now = overrides.now ?? Date.now
  const metrics =
    overrides.metrics ?? createMetrics({ jobQueue: db.pool, processMetrics: input.processMetrics })
  const models = overrides.models ?? createModelRegistry({ db: db.pool, config, logger, now })
  const chatModels =
    overrides.chatModels ??
    createOpenAIChatModelFactory({
      timeoutMs: config.MODEL_TIMEOUT_MS,
      streamTimeoutMs: config.MODEL_STREAM_TIMEOUT_MS,
      maxRetries: config.MODEL_MAX_RETRIES,
    })
  const embedders = overrides.embedders ?? createOpenAIEmbedderFactory(config)
  const apiKeys = new ApiKeyCache(db.pool, config.AUTH_CACHE_TTL_MS)
  const rateLimiter = new RateLimiter(
    db.pool,
    { rpm: config.RATE_LIMIT_RPM, tpm: config.RATE_LIMIT_TPM },
    { syncMs: config.RATE_LIMIT_SYNC_MS, refreshMs: Math.max(1000, config.RATE_LIMIT_SYNC_MS * 2), logger },
  )
  const generationLog = new GenerationLogWriter(db.pool, logger, { flushMs: config.GENERATION_LOG_FLUSH_MS })
  const tasks = new ActiveTaskCache(db.pool, config.TASK_CACHE_TTL_MS, now)
  const retrieval: RetrievalDeps = {
    db: db.pool,
    embedders,
    queryEmbeddingCache: new QueryEmbeddingCache({
      maxEntries: config.QUERY_EMBEDDING_CACHE_SIZE,
      ttlMs: config.QUERY_EMBEDDING_CACHE_TTL_MS,
      now,
    }),
    collectionCache: new CollectionCache(),
    settings: retrievalSettingsFromConfig(config),
    metrics,
    bm25Indexes: new Bm25MemoryIndexes(db.pool, {
      maxBytes: config.BM25_INDEX_MAX_MB * 1024 * 1024,
      minChunks: config.BM25_INDEX_MIN_CHUNKS,
      preparedStatements: config.DB_PREPARED_STATEMENTS,
      now,
      onBuildError: (collectionId, error) =>
        logger.warn(
          { collectionId, err: error },
          'could not build the in-process BM25 index; searching with SQL',
        ),
    }),
  }
  const breakers =
    config.MODEL_BREAKER_FAILURES > 0
      ? new ModelCircuitBreakers({
          failureThreshold: config.MODEL_BREAKER_FAILURES,
          coolDownMs: config.MODEL_BREAKER_COOLDOWN_MS,
          now,
          onChange: (model, state) => {
            metrics.modelBreakerChanges.inc({ model, state })
            if (state === 'open') logger.warn({ model }, 'model keeps failing: skipping it for the cool-down')
            else logger.info({ model, state }, `model circuit breaker ${state.replace('_', '-')}`)
          },
        })
      : undefined
  const generation: SharedGenerationDeps = {
    tasks,
    models,
    chatModels,
    ...(breakers ? { breakers } : {}),
    retrieve: (request) => retrieve(retrieval, request),
    maxInputChars: config.MAX_GENERATION_INPUT_CHARS,
    metrics,
    generationLog,
    rateLimiter,
  }
  const ingest: IngestDeps = { db, config, createEmbedder: embedders, logger, metrics }
  return {
    config,
    db,
    logger,
    migrations: input.migrations ?? loadMigrations(),
    metrics,
    models,
    chatModels,
    embedders,
    now,
    apiKeys,
    rateLimiter,
    generationLog,
    tasks,
    retrieval,
    generation,
    ingest,
    jobHandlers: {
      [EVAL_JOB_KIND]: evalRunHandler({ db: db.pool, logger, metrics, generation, embedders }),
      [FINE_TUNE_JOB_KIND]: fineTuneHandler({
        db: db.pool,
        models,
        clients: createFineTuningClient,
        logger,
        metrics,
        pollMs: config.FINE_TUNE_POLL_MS,
        maxPollMs: Math.max(config.FINE_TUNE_POLL_MS, config.FINE_TUNE_POLL_MAX_MS),
      }),
    },
    flush: async () => {
      await generationLog.flush()
      await rateLimiter.flush()
    },
    close: async () => {
      await retrieval.bm25Indexes?.close()
      await generationLog.close()
      await rateLimiter.close()
    },
  }
}

export interface ProcessOptions {
  /** Log at `warn` while LOG_LEVEL is the default `info`: a command's output is its report, not log lines. */
  quiet?: boolean
  /** See BuildServicesInput. */
  processMetrics?: boolean
  /** Logged as `<name> stopped` once everything is closed (long-running processes). */
  name?: string
  /** Checks of the command's own that need the configuration, made before the database is opened. */
  beforeOpen?: (config: Config) => void
}

// A database that is gone must not hold the exit: the generation log gives up after ~5 s by itself.
const CLOSE_TIMEOUT_MS = 15_000

/**
 * How every process starts (the server, the worker, each CLI command): read and check the configuration,
 * open and migrate the database, build the services, run `work`, then write what is queued and close
 * the database, whether `work` succeeded or not.
 */
export async function withServices<T>(
  options: ProcessOptions,
  work: (services: Services) => Promise<T>,
): Promise<T> {
  const config = loadConfig()
  options.beforeOpen?.(config)
  const logger = createLogger(options.quiet && config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL)
  const { db, migrations } = await openMigratedDatabase(config, logger)
  const services = buildServices({ config, db, logger, migrations, processMetrics: options.processMetrics })
  try {
    // The catalog and the models file are written to the registry at start (and read into this process).
    await services.models.ensure([])
    return await work(services)
  } finally {
    const closed = new AbortController()
    await Promise.race([
      services
        .close()
        .catch((error: unknown) => logger.error({ err: error }, 'writing queued rows failed'))
        .finally(() => closed.abort()),
      sleep(CLOSE_TIMEOUT_MS, closed.signal),
    ])
    await db.close().catch((error: unknown) => logger.error({ err: error }, 'closing the database failed'))
    if (options.name) logger.info(`${options.name} stopped`)
  }
}
