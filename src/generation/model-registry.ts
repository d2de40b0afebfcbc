import type { Logger } from 'pino'
import type { Config, ModelEntry } from '../config.js'
import {
  findUnknownModels,
  listModelRows,
  type ModelFields,
  type ModelKind,
  type ModelRow,
  seedModelRow,
} from '../db/models.js'
import type { Queryable } from '../db/transaction.js'
import { AppError } from '../errors.js'
import { CATALOG_PRICES_AS_OF, MODEL_CATALOG } from './model-catalog.js'

export interface ModelPricing {
  inputPerMillion: number
  outputPerMillion: number
}

export interface ModelSettings {
  id: string
  baseURL?: string
  apiKey?: string
  /** Undefined when no price is configured: cost is then reported as null, not as zero. */
  pricing?: ModelPricing
  contextWindow: number
}

/** A registry row as services read it (the database row: src/db/models.ts). */
export type RegisteredModel = ModelRow

export interface ModelRegistry {
  /**
   * Endpoint, key and prices of a registered model, or undefined when it is not registered or no endpoint
   * or key is configured for it. Reads this process's copy: call `ensure` first.
   */
  resolve(modelId: string): ModelSettings | undefined
  /** Context window even for unconfigured models, so dryRun can pack a prompt without a provider. */
  contextWindow(modelId: string): number
  /** Fine-tuning a model: its price per 1M trained tokens (undefined: not priced) and per-example token limit. */
  training(modelId: string): { pricePer1M?: number; exampleTokenLimit: number }
  /** The registry row of a model, from this process's copy (call `ensure` first). */
  get(modelId: string): RegisteredModel | undefined
  /** Every registered model, by id, from this process's copy (call `ensure([])` first). */
  list(): RegisteredModel[]
  /**
   * Make this process's copy fresh enough for `ids`: read the database when the copy is older than the
   * TTL or lacks one of them (a model registered by another process, such as the worker, is seen at once).
   */
  ensure(ids: readonly (string | undefined)[]): Promise<void>
  /**
   * Refuse (400, naming each) the ids that are not registered; asks the database (through `db` when
   * given: a transaction's client), not the copy.
   */
  assertRegistered(models: readonly { path: string; id: string }[], db?: Queryable): Promise<void>
  /** Drop this process's copy (after a write), so the next read sees the database. */
  invalidate(): void
}

/** OpenAI's per-example limit for current chat models, when a model does not set its own. */
export const DEFAULT_TRAINING_EXAMPLE_TOKENS = 65_536

export const PROVIDER_SETTINGS_HINT =
  'Set OPENAI_API_KEY and/or OPENAI_BASE_URL, or register the model (MODELS_FILE, MODELS_JSON or POST /v1/model-registry) with its baseURL and apiKeyEnv.'

/** An id found missing is looked up again at most this often (so a stray id cannot cost a query per request). */
const MISS_RELOAD_MS = 1000

export interface ModelRegistryOptions {
  db: Queryable
  config: Pick<
    Config,
    | 'OPENAI_API_KEY'
    | 'OPENAI_BASE_URL'
    | 'MODEL_CONTEXT_WINDOW'
    | 'MODEL_REGISTRY_TTL_MS'
    | 'models'
    | 'readSecret'
  >
  logger: Logger
  now?: () => number
}

/**
 * The model registry: the `models` table, seeded once per process from the built-in catalog and the
 * models file, read into a copy that answers the synchronous lookups of the request path.
 */
export function createModelRegistry(options: ModelRegistryOptions): ModelRegistry {
  const { db, config, logger } = options
  const now = options.now ?? Date.now
  const defaults = config.models.defaults ?? {}
  let rows = new Map<string, RegisteredModel>()
  let loadedAt = Number.NEGATIVE_INFINITY
  let seeded = false
  let loading: Promise<void> | undefined
  const missedAt = new Map<string, number>()

  const load = async () => {
    if (!seeded) {
      await seedModels(db, config.models.models)
      seeded = true
    }
    const startedAt = now()
    const fresh = await listModelRows(db)
    rows = new Map(fresh.map((row) => [row.id, row]))
    loadedAt = startedAt
  }
  const refresh = () => {
    loading ??= load().finally(() => {
      loading = undefined
    })
    return loading
  }
  const contextWindow = (modelId: string) =>
    rows.get(modelId)?.contextWindow ??
    config.models.models[modelId]?.contextWindow ??
    defaults.contextWindow ??
    config.MODEL_CONTEXT_WINDOW

  return {
    contextWindow,
    get: (modelId) => rows.get(modelId),
    list: () => [...rows.values()],
    invalidate() {
      loadedAt = Number.NEGATIVE_INFINITY
    },
    async ensure(ids) {
      const at = now()
      const age = at - loadedAt
      const missing = ids.filter((id): id is string => id !== undefined && !rows.has(id))
      if (missing.length === 0 && age < config.MODEL_REGISTRY_TTL_MS) return
      if (missing.length === 0 && Number.isFinite(loadedAt)) {
        // Stale but complete: answer from the copy and refresh behind the request.
        refresh().catch((error: unknown) =>
          logger.warn({ err: error }, 'refreshing the model registry failed; using the copy'),
        )
        return
      }
      // A model registered by another process is read at once; one looked for in vain, not again for a second.
      const recentlyMissed = missing.every(
        (id) => at - (missedAt.get(id) ?? Number.NEGATIVE_INFINITY) < MISS_RELOAD_MS,
      )
      if (missing.length > 0 && Number.isFinite(loadedAt) && recentlyMissed) return
      await refresh()
      for (const id of missing) {
        if (rows.has(id)) missedAt.delete(id)
        else if (missedAt.size < 10_000) missedAt.set(id, at)
      }
    },
    async assertRegistered(models, through) {
      if (!seeded) await refresh()
      const unknown = new Set(
        await findUnknownModels(
          through ?? db,
          models.map((m) => m.id),
        ),
      )
      const problems = models.filter((m) => unknown.has(m.id))
      if (problems.length === 0) return
      const names = [...new Set(problems.map((m) => m.id))]
      throw new AppError(
        'validation_failed',
        `Unknown model${names.length > 1 ? 's' : ''} ${names.join(', ')}: register ${names.length > 1 ? 'them' : 'it'} first (POST /v1/model-registry, or MODELS_FILE).`,
        {
          errors: problems.map((m) => ({
            path: m.path,
            message: `no model ${m.id} in the registry`,
          })),
        },
      )
    },
    training(modelId) {
      const row = rows.get(modelId)
      const entry = config.models.models[modelId] ?? {}
      const pricePer1M = row ? row.trainingPricePer1M : entry.trainingPricePer1M
      return {
        ...(pricePer1M !== null && pricePer1M !== undefined ? { pricePer1M } : {}),
        exampleTokenLimit:
          row?.trainingExampleTokenLimit ??
          entry.trainingExampleTokenLimit ??
          defaults.trainingExampleTokenLimit ??
          DEFAULT_TRAINING_EXAMPLE_TOKENS,
      }
    },
    resolve(modelId) {
      const row = rows.get(modelId)
      if (!row) return undefined
      const baseURL = row.baseURL ?? defaults.baseURL ?? config.OPENAI_BASE_URL
      // A named variable is the only key for the model: unset, the model has no key (never the default's).
      const apiKey =
        row.apiKeyEnv !== null
          ? config.readSecret(row.apiKeyEnv)
          : (config.models.models[modelId]?.apiKey ?? defaults.apiKey ?? config.OPENAI_API_KEY)
      if (row.apiKeyEnv !== null && apiKey === undefined) return undefined
      // Local servers (Ollama, vLLM, llama.cpp) need only a URL; api.openai.com needs only a key.
      if (baseURL === undefined && apiKey === undefined) return undefined
      return {
        id: modelId,
        ...(baseURL !== undefined ? { baseURL } : {}),
        ...(apiKey !== undefined ? { apiKey } : {}),
        ...(row.inputPricePer1M !== null && row.outputPricePer1M !== null
          ? { pricing: { inputPerMillion: row.inputPricePer1M, outputPerMillion: row.outputPricePer1M } }
          : {}),
        contextWindow: contextWindow(modelId),
      }
    },
  }
}

/** A fine-tuned model's kind unless the entry says otherwise: OpenAI names them `ft:<base>:…`. */
export function defaultKind(id: string): ModelKind {
  return id.startsWith('ft:') ? 'fine_tuned' : 'foundation'
}

/** The registry fields an entry of the catalog or the models file sets (never its inline apiKey). */
export function entryFields(id: string, entry: ModelEntry): Partial<ModelFields> & { kind: ModelKind } {
  const { apiKey: _key, ...rest } = entry
  return { ...rest, kind: entry.kind ?? defaultKind(id) } as Partial<ModelFields> & { kind: ModelKind }
}

/** Write the catalog (where the registry has no such row) and the models file (over what it sets). */
export async function seedModels(
  db: Queryable,
  fileModels: Readonly<Record<string, ModelEntry>>,
): Promise<void> {
  for (const [id, entry] of Object.entries(MODEL_CATALOG)) {
    await seedModelRow(db, id, { ...entryFields(id, entry), pricesAsOf: CATALOG_PRICES_AS_OF }, 'catalog')
  }
  for (const [id, entry] of Object.entries(fileModels))
    await seedModelRow(db, id, entryFields(id, entry), 'file')
}
