import type { Config } from '../config.js'

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
  /** Fine-tuning a model: its price per 1M trained tokens (undefined: not priced) and per-example token limit. */
  training(modelId: string): { pricePer1M?: number; exampleTokenLimit: number }
}

/** OpenAI's per-example limit for current chat models, when a model does not set its own. */
export const DEFAULT_TRAINING_EXAMPLE_TOKENS = 65_536

export const PROVIDER_SETTINGS_HINT =
  'Set OPENAI_API_KEY and/or OPENAI_BASE_URL, or list the model in MODELS_FILE (or MODELS_JSON) with its baseURL and apiKey.'

/** The registry of configured models: MODELS_FILE / MODELS_JSON over the OPENAI_* defaults. */
export function createModelRegistry(
  config: Pick<Config, 'OPENAI_API_KEY' | 'OPENAI_BASE_URL' | 'MODEL_CONTEXT_WINDOW' | 'models'>,
): ModelRegistry {
  const file = config.models
  const defaults = file.defaults ?? {}
  const contextWindow = (modelId: string) =>
    file.models[modelId]?.contextWindow ?? defaults.contextWindow ?? config.MODEL_CONTEXT_WINDOW
  return {
    contextWindow,
    training(modelId) {
      const entry = file.models[modelId] ?? {}
      return {
        ...(entry.trainingPricePer1M !== undefined ? { pricePer1M: entry.trainingPricePer1M } : {}),
        exampleTokenLimit:
          entry.trainingExampleTokenLimit ??
          defaults.trainingExampleTokenLimit ??
          DEFAULT_TRAINING_EXAMPLE_TOKENS,
      }
    },
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
