import { readFileSync } from 'node:fs'
import { z } from 'zod'

const booleanFromEnv = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes')

/** An http(s) URL: model endpoints. */
const httpUrl = z.url({ protocol: /^https?$/ })

const optionalString = z
  .string()
  .trim()
  .transform((value) => (value === '' ? undefined : value))
  .optional()

/** `https://app.example.com[:port]`, exactly as browsers send it in the Origin header. */
function isOrigin(value: string): boolean {
  try {
    const url = new URL(value)
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value
  } catch {
    return false
  }
}

const originList = optionalString
  .transform((value) =>
    value
      ?.split(',')
      .map((origin) => origin.trim())
      .filter((origin) => origin !== ''),
  )
  .pipe(
    z
      .array(
        z
          .string()
          .refine(
            isOrigin,
            'each entry must be an origin such as https://app.example.com (no path, lowercase)',
          ),
      )
      .optional(),
  )

const Env = z
  .object({
    DATABASE_URL: optionalString.pipe(
      z
        .string()
        .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
        .optional(),
    ),
    DATA_DIR: z.string().min(1).default('./.onbrand/db'),
    DB_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
    // How long a request may wait for a free database connection before it is answered 503.
    DB_ACQUIRE_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(15_000),
    // Named (server-side) prepared statements for the statements of searches the in-process BM25 index ranks; off
    // behind a pooler that cannot keep them (PgBouncer in transaction mode before 1.21).
    DB_PREPARED_STATEMENTS: booleanFromEnv.default(true),
    HOST: z.string().min(1).default('127.0.0.1'),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    OPENAI_BASE_URL: optionalString.pipe(httpUrl.optional()),
    OPENAI_API_KEY: optionalString,
    EMBEDDING_MODEL: z.string().min(1).max(200).default('text-embedding-3-small'),
    EMBEDDING_DIMENSIONS: z.coerce.number().int().min(1).max(2000).default(1536),
    MAX_BODY_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .default(1024 * 1024),
    MAX_UPLOAD_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .default(25 * 1024 * 1024),
    MODELS_FILE: optionalString,
    MODELS_JSON: optionalString,
    MODEL_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(60_000),
    MODEL_STREAM_TIMEOUT_MS: z.coerce.number().int().min(1000).max(3_600_000).default(300_000),
    MODEL_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
    // A fine-tuned model failing this many times in a row is skipped (straight to the fallback) for the
    // cool-down, then tried once; 0 turns the breaker off.
    MODEL_BREAKER_FAILURES: z.coerce.number().int().min(0).max(1000).default(3),
    MODEL_BREAKER_COOLDOWN_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
    MODEL_CONTEXT_WINDOW: z.coerce.number().int().min(512).max(10_000_000).default(128_000),
    // How long a process trusts its copy of the model registry; a model it has not seen is looked up at once.
    MODEL_REGISTRY_TTL_MS: z.coerce.number().int().min(0).max(600_000).default(5000),
    // Fine-tune jobs: the first rest between looks at the provider's job, and the longest (it doubles while nothing changes).
    FINE_TUNE_POLL_MS: z.coerce.number().int().min(10).max(3_600_000).default(15_000),
    FINE_TUNE_POLL_MAX_MS: z.coerce.number().int().min(10).max(86_400_000).default(300_000),
    // Promotion is refused when the model's pass rate in its latest evaluation is under the active model's by more.
    PROMOTION_MARGIN: z.coerce.number().min(0).max(1).default(0.02),
    TASK_CACHE_TTL_MS: z.coerce.number().int().min(0).max(600_000).default(2000),
    MAX_GENERATION_INPUT_CHARS: z.coerce.number().int().min(1).max(1_000_000).default(32_000),
    SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
    BOOTSTRAP_ADMIN_KEY: booleanFromEnv.default(true),
    // Ingestion: the API process runs a job worker unless told not to (docker-compose runs its own).
    RUN_WORKER: booleanFromEnv.default(true),
    WORKER_POLL_MS: z.coerce.number().int().min(10).max(600_000).default(1000),
    JOB_LEASE_MS: z.coerce.number().int().min(1000).max(3_600_000).default(30_000),
    CHUNK_MAX_TOKENS: z.coerce.number().int().min(32).max(8000).default(400),
    CHUNK_OVERLAP_TOKENS: z.coerce.number().int().min(0).max(2000).default(50),
    EMBEDDING_BATCH_SIZE: z.coerce.number().int().min(1).max(2048).default(64),
    EMBEDDING_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
    EMBEDDING_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
    EMBEDDING_MAX_RETRIES: z.coerce.number().int().min(0).max(20).default(5),
    INGEST_GROUP_DOCUMENTS: z.coerce.number().int().min(1).max(1000).default(256),
    // A failed or cancelled job keeps its uploaded files this long, for a retry; finished jobs need none.
    INGEST_FILE_RETENTION_HOURS: z.coerce.number().min(0).max(87_600).default(168),
    // Retrieval: candidates per search arm, HNSW search breadth.
    RETRIEVAL_CANDIDATES: z.coerce.number().int().min(10).max(1000).default(40),
    // The BM25 arm's candidate budget per query, in postings (0: no cap, exact BM25 however long it takes).
    BM25_MAX_CANDIDATES: z.coerce.number().int().min(0).max(10_000_000).default(2000),
    // In-process BM25 indexes (exact, no cap): memory this process may give them (0: none), the smallest
    // collection that gets one (smaller ones are fast enough with SQL).
    BM25_INDEX_MAX_MB: z.coerce.number().int().min(0).max(1_000_000).default(256),
    BM25_INDEX_MIN_CHUNKS: z.coerce.number().int().min(1).max(100_000_000).default(20_000),
    EF_SEARCH_DEFAULT: z.coerce.number().int().min(10).max(1000).default(128),
    EF_SEARCH_MAX: z.coerce.number().int().min(10).max(1000).default(400),
    HNSW_MAX_SCAN_TUPLES: z.coerce.number().int().min(1000).max(10_000_000).default(20_000),
    QUERY_EMBEDDING_CACHE_SIZE: z.coerce.number().int().min(0).max(1_000_000).default(1000),
    QUERY_EMBEDDING_CACHE_TTL_MS: z.coerce.number().int().min(0).max(86_400_000).default(300_000),
    // Hardening: per-key limits per minute (0 = unlimited; a key's own limits override), metrics, CORS.
    RATE_LIMIT_RPM: z.coerce.number().int().min(0).max(1_000_000).default(600),
    RATE_LIMIT_TPM: z.coerce.number().int().min(0).max(1_000_000_000).default(200_000),
    RATE_LIMIT_SYNC_MS: z.coerce.number().int().min(10).max(60_000).default(250),
    AUTH_CACHE_TTL_MS: z.coerce.number().int().min(0).max(600_000).default(2000),
    GENERATION_LOG_FLUSH_MS: z.coerce.number().int().min(0).max(60_000).default(50),
    // Stored prompts of generations nobody gave feedback on are dropped after this many days (0: never).
    GENERATION_PROMPT_RETENTION_DAYS: z.coerce.number().int().min(0).max(36_500).default(90),
    METRICS_ENABLED: booleanFromEnv.default(true),
    METRICS_TOKEN: optionalString.pipe(z.string().min(16, 'must be at least 16 characters').optional()),
    CORS_ORIGINS: originList,
  })
  .refine((c) => c.EF_SEARCH_DEFAULT <= c.EF_SEARCH_MAX, {
    path: ['EF_SEARCH_DEFAULT'],
    message: 'must not exceed EF_SEARCH_MAX',
  })
  .refine((c) => c.MAX_UPLOAD_BYTES >= c.MAX_BODY_BYTES, {
    path: ['MAX_UPLOAD_BYTES'],
    message: 'must be at least MAX_BODY_BYTES',
  })
  .refine((c) => c.CHUNK_OVERLAP_TOKENS < c.CHUNK_MAX_TOKENS / 2, {
    path: ['CHUNK_OVERLAP_TOKENS'],
    message: 'must be less than half of CHUNK_MAX_TOKENS',
  })

/** Every environment variable Onbrand reads (the README's table and docker-compose.yml list each). */
export const ENV_VARIABLES: readonly string[] = Object.keys(Env.shape)

/** A name an API key may be read from: an environment variable, never one of Onbrand's own settings. */
export const ApiKeyEnvName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
  .max(200)
  .refine(
    (name) => name === 'OPENAI_API_KEY' || !(Object.keys(Env.shape) as string[]).includes(name),
    'must not name one of Onbrand’s own settings',
  )

const isoDate = z.iso.date()

const ModelEntry = z
  .object({
    kind: z.enum(['foundation', 'fine_tuned']).optional(),
    baseModel: z.string().min(1).max(200).optional(),
    baseURL: httpUrl.optional(),
    // The key itself (kept in the process, never written to the database), or the variable holding it.
    apiKey: z.string().min(1).optional(),
    apiKeyEnv: ApiKeyEnvName.optional(),
    inputPricePer1M: z.number().min(0).optional(),
    outputPricePer1M: z.number().min(0).optional(),
    contextWindow: z.number().int().min(512).optional(),
    // Fine-tuning: the price per 1M trained tokens, and the longest example the provider accepts.
    trainingPricePer1M: z.number().min(0).optional(),
    trainingExampleTokenLimit: z.number().int().min(1).optional(),
    // What a model fine-tuned from this one costs to call, and hosting of a deployed model per hour.
    fineTunedInputPricePer1M: z.number().min(0).optional(),
    fineTunedOutputPricePer1M: z.number().min(0).optional(),
    hostingPerHour: z.number().min(0).optional(),
    shutdownDate: isoDate.optional(),
    pricesAsOf: isoDate.optional(),
  })
  .strict()
  .refine((entry) => entry.apiKey === undefined || entry.apiKeyEnv === undefined, {
    message: 'set apiKey or apiKeyEnv, not both',
  })
export type ModelEntry = z.infer<typeof ModelEntry>

/** The shape of MODELS_FILE (or MODELS_JSON): per-model endpoint, key, prices and context window. */
const ModelsFile = z
  .object({
    defaults: z
      .object({
        baseURL: httpUrl.optional(),
        apiKey: z.string().min(1).optional(),
        contextWindow: z.number().int().min(512).optional(),
        trainingExampleTokenLimit: z.number().int().min(1).optional(),
      })
      .strict()
      .optional(),
    models: z.record(z.string().min(1).max(200), ModelEntry).default({}),
  })
  .strict()
type ModelsFile = z.infer<typeof ModelsFile>

export type Config = z.infer<typeof Env> & {
  /** MODELS_FILE with MODELS_JSON merged over it, read and checked with the rest. */
  models: ModelsFile
  /**
   * The value of an environment variable a registered model names for its API key (`apiKeyEnv`): read
   * when the model is called, so the key itself is never stored.
   */
  readSecret(name: string): string | undefined
}

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`Invalid configuration:\n${issues.map((issue) => `  - ${issue}`).join('\n')}`)
    this.name = 'ConfigError'
  }
}

/**
 * Parse the environment once at boot, MODELS_FILE and MODELS_JSON included, before anything touches the
 * database; every bad field is named, with no values echoed (they may be secrets).
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const issues: string[] = []
  const result = Env.safeParse(env)
  if (!result.success) {
    issues.push(...result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`))
  }
  const models = readModels(unsetIfBlank(env.MODELS_FILE), unsetIfBlank(env.MODELS_JSON), issues)
  if (!result.success || issues.length > 0) throw new ConfigError(issues)
  return { ...result.data, models, readSecret: (name) => unsetIfBlank(env[name]) }
}

function unsetIfBlank(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim()
}

function readModels(file: string | undefined, inline: string | undefined, issues: string[]): ModelsFile {
  const sources: { name: string; text: string }[] = []
  if (file !== undefined) {
    try {
      sources.push({ name: 'MODELS_FILE', text: readFileSync(file, 'utf8') })
    } catch {
      issues.push(`MODELS_FILE: cannot read ${file}`)
    }
  }
  if (inline !== undefined) sources.push({ name: 'MODELS_JSON', text: inline })
  let merged: ModelsFile = { models: {} }
  for (const source of sources) {
    let json: unknown
    try {
      json = JSON.parse(source.text)
    } catch {
      issues.push(`${source.name}: not valid JSON`)
      continue
    }
    const parsed = ModelsFile.safeParse(json)
    if (!parsed.success) {
      issues.push(
        ...parsed.error.issues.map((issue) => `${source.name}: ${issue.path.join('.')}: ${issue.message}`),
      )
      continue
    }
    merged = {
      defaults: { ...merged.defaults, ...parsed.data.defaults },
      models: { ...merged.models, ...parsed.data.models },
    }
  }
  return merged
}

/** A model provider counts as configured once either a key or a base URL (local servers need no key) is set. */
export function hasModelProvider(config: Pick<Config, 'OPENAI_API_KEY' | 'OPENAI_BASE_URL'>): boolean {
  return config.OPENAI_API_KEY !== undefined || config.OPENAI_BASE_URL !== undefined
}
