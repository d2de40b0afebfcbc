import { readFileSync } from 'node:fs'
import { z } from 'zod'
import { type Config, ConfigError } from '../config.js'

const ModelEntry = z
  .object({
    baseURL: z.url({ protocol: /^https?$/ }).optional(),
    apiKey: z.string().min(1).optional(),
    inputPricePer1M: z.number().min(0).optional(),
    outputPricePer1M: z.number().min(0).optional(),
    contextWindow: z.number().int().min(512).optional(),
  })
  .strict()

/** The shape of MODELS_FILE (or MODELS_JSON): per-model endpoint, key, prices and context window. */
export const ModelsFile = z
  .object({
    defaults: ModelEntry.omit({ inputPricePer1M: true, outputPricePer1M: true }).optional(),
    models: z.record(z.string().min(1).max(200), ModelEntry).default({}),
  })
  .strict()
export type ModelsFile = z.infer<typeof ModelsFile>

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

export interface ModelRegistry {
  /** Settings for a model id, or undefined when no endpoint or key is configured for it. */
  resolve(modelId: string): ModelSettings | undefined
  /** Context window even for unconfigured models, so dryRun can pack a prompt without a provider. */
  contextWindow(modelId: string): number
}

export const PROVIDER_SETTINGS_HINT =
  'Set OPENAI_API_KEY and/or OPENAI_BASE_URL, or list the model in MODELS_FILE (or MODELS_JSON) with its baseURL and apiKey.'

export function createModelRegistry(
  config: Pick<Config, 'OPENAI_API_KEY' | 'OPENAI_BASE_URL' | 'MODEL_CONTEXT_WINDOW'>,
  file: ModelsFile = { models: {} },
): ModelRegistry {
  const defaults = file.defaults ?? {}
  const contextWindow = (modelId: string) =>
    file.models[modelId]?.contextWindow ?? defaults.contextWindow ?? config.MODEL_CONTEXT_WINDOW
  return {
    contextWindow,
    resolve(modelId) {
      const entry = file.models[modelId] ?? {}
      const baseURL = entry.baseURL ?? defaults.baseURL ?? config.OPENAI_BASE_URL
      const apiKey = entry.apiKey ?? defaults.apiKey ?? config.OPENAI_API_KEY
      // Local servers (Ollama, vLLM, llama.cpp) need only a URL; api.openai.com needs only a key.
      if (baseURL === undefined && apiKey === undefined) return undefined
      const priced = entry.inputPricePer1M !== undefined && entry.outputPricePer1M !== undefined
      return {
        id: modelId,
        ...(baseURL !== undefined ? { baseURL } : {}),
        ...(apiKey !== undefined ? { apiKey } : {}),
        ...(priced
          ? {
              pricing: { inputPerMillion: entry.inputPricePer1M!, outputPerMillion: entry.outputPricePer1M! },
            }
          : {}),
        contextWindow: contextWindow(modelId),
      }
    },
  }
}

/** Read MODELS_FILE / MODELS_JSON once at boot; a bad file fails start-up with the field errors. */
export function loadModelRegistry(config: Config): ModelRegistry {
  const sources: { name: string; text: string }[] = []
  if (config.MODELS_FILE !== undefined) {
    try {
      sources.push({ name: 'MODELS_FILE', text: readFileSync(config.MODELS_FILE, 'utf8') })
    } catch {
      throw new ConfigError([`MODELS_FILE: cannot read ${config.MODELS_FILE}`])
    }
  }
  if (config.MODELS_JSON !== undefined) sources.push({ name: 'MODELS_JSON', text: config.MODELS_JSON })
  let merged: ModelsFile = { models: {} }
  for (const source of sources) {
    const parsed = parseModelsFile(source.name, source.text)
    merged = {
      defaults: { ...merged.defaults, ...parsed.defaults },
      models: { ...merged.models, ...parsed.models },
    }
  }
  return createModelRegistry(config, merged)
}

function parseModelsFile(name: string, text: string): ModelsFile {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new ConfigError([`${name}: not valid JSON`])
  }
  const result = ModelsFile.safeParse(json)
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => `${name}: ${issue.path.join('.')}: ${issue.message}`),
    )
  }
  return result.data
}
