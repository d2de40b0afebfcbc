import type { ChatUsage } from './chat-model.js'
import type { ModelPricing } from './model-registry.js'

/** USD for one call; null when the model has no configured price (unknown is not free). */
export function costOf(usage: ChatUsage, pricing: ModelPricing | undefined): number | null {
  if (!pricing) return null
  const usd =
    (usage.promptTokens / 1_000_000) * pricing.inputPerMillion +
    (usage.completionTokens / 1_000_000) * pricing.outputPerMillion
  // The log column is numeric(14, 8); round the same way so the response and the log agree.
  return Math.round(usd * 1e8) / 1e8
}

export function addUsage(a: ChatUsage, b: ChatUsage): ChatUsage {
  return {
    promptTokens: a.promptTokens + b.promptTokens,
    completionTokens: a.completionTokens + b.completionTokens,
  }
}
