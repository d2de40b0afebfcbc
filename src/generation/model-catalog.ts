import type { ModelEntry } from '../config.js'

/** The date the catalog's prices were read from OpenAI's published price list. */
export const CATALOG_PRICES_AS_OF = '2025-08-07'

/**
 * Well-known foundation models, on the default endpoint, with OpenAI's list prices (USD per 1M tokens)
 * as of CATALOG_PRICES_AS_OF. They seed the registry where it has no row of that id, so the quick start
 * and tasks naming them work without a models file; MODELS_FILE overrides any field, PATCH
 * /v1/model-registry/{id} changes it. Shutdown dates are left for the operator to set: providers
 * announce them, and a guessed date would block fine-tuning on a guess.
 */
export const MODEL_CATALOG: Readonly<Record<string, ModelEntry>> = {
  'gpt-4o-mini': {
    inputPricePer1M: 0.15,
    outputPricePer1M: 0.6,
    trainingPricePer1M: 3,
    fineTunedInputPricePer1M: 0.3,
    fineTunedOutputPricePer1M: 1.2,
    contextWindow: 128_000,
  },
  'gpt-4o': {
    inputPricePer1M: 2.5,
    outputPricePer1M: 10,
    trainingPricePer1M: 25,
    fineTunedInputPricePer1M: 3.75,
    fineTunedOutputPricePer1M: 15,
    contextWindow: 128_000,
  },
  'gpt-4.1': {
    inputPricePer1M: 2,
    outputPricePer1M: 8,
    trainingPricePer1M: 25,
    fineTunedInputPricePer1M: 3,
    fineTunedOutputPricePer1M: 12,
    contextWindow: 1_047_576,
  },
  'gpt-4.1-mini': {
    inputPricePer1M: 0.4,
    outputPricePer1M: 1.6,
    trainingPricePer1M: 5,
    fineTunedInputPricePer1M: 0.8,
    fineTunedOutputPricePer1M: 3.2,
    contextWindow: 1_047_576,
  },
  'gpt-4.1-nano': {
    inputPricePer1M: 0.1,
    outputPricePer1M: 0.4,
    trainingPricePer1M: 1.5,
    fineTunedInputPricePer1M: 0.2,
    fineTunedOutputPricePer1M: 0.8,
    contextWindow: 1_047_576,
  },
  'gpt-3.5-turbo': {
    inputPricePer1M: 0.5,
    outputPricePer1M: 1.5,
    trainingPricePer1M: 8,
    fineTunedInputPricePer1M: 3,
    fineTunedOutputPricePer1M: 6,
    contextWindow: 16_385,
  },
  'gpt-5': { inputPricePer1M: 1.25, outputPricePer1M: 10, contextWindow: 400_000 },
  'gpt-5-mini': { inputPricePer1M: 0.25, outputPricePer1M: 2, contextWindow: 400_000 },
  'gpt-5-nano': { inputPricePer1M: 0.05, outputPricePer1M: 0.4, contextWindow: 400_000 },
}
