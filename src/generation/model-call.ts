import { AppError } from '../errors.js'
import { countTokensAsync, encodingForModel } from '../tokens/tokenizer.js'
import {
  type ChatCallOptions,
  type ChatMessage,
  type ChatModel,
  type ChatUsage,
  ModelCallError,
} from './chat-model.js'
import { breakerKey } from './circuit-breaker.js'
import { addUsage } from './cost.js'
import { checkJsonOutput } from './json-output.js'
import { type ModelSettings, PROVIDER_SETTINGS_HINT } from './model-registry.js'
import type { GenerationDeps, PreparedGeneration } from './types.js'

export interface ResolvedModel {
  settings: ModelSettings
  model: ChatModel
}

export interface ModelPlan {
  /** Undefined when the call starts on the fallback: see `skipped`. */
  primary?: ResolvedModel
  fallback?: ResolvedModel
  /** Why the chosen model is not called: it has no provider, or its circuit breaker is open. */
  skipped?: string
}

/**
 * Find endpoints for the chosen model and its fallback; neither configured is a 503 naming the settings.
 * A chosen model whose circuit breaker is open is skipped when there is a fallback to go to instead.
 */
export function planModels(deps: GenerationDeps, prepared: PreparedGeneration): ModelPlan {
  const { breakers } = deps
  const resolve = (id: string): ResolvedModel | undefined => {
    const settings = deps.models.resolve(id)
    if (!settings) return undefined
    const model = deps.chatModels(settings)
    return { settings, model: breakers ? breakers.guard(settings, model) : model }
  }
  const primary = resolve(prepared.decision.model)
  const fallback = prepared.decision.fallbackModel ? resolve(prepared.decision.fallbackModel) : undefined
  if (!primary && !fallback) {
    if (!deps.models.get(prepared.decision.model))
      throw new AppError(
        'provider_not_configured',
        `Model ${prepared.decision.model} is not in the model registry. Register it (POST /v1/model-registry or MODELS_FILE).`,
      )
    throw new AppError(
      'provider_not_configured',
      `No model provider is configured for ${prepared.decision.model}. ${PROVIDER_SETTINGS_HINT}`,
    )
  }
  if (!primary) return { fallback: fallback as ResolvedModel, skipped: 'no provider configured' }
  if (fallback && breakers && !breakers.admit(breakerKey(primary.settings))) {
    return { fallback, skipped: 'circuit open after repeated failures' }
  }
  return { primary, ...(fallback ? { fallback } : {}) }
}

/**
 * Availability failures and unusable replies move to the foundation model; a caller leaving or a JSON
 * reply that fails its schema (after its one retry) do not.
 */
export function canFallBack(error: unknown): error is ModelCallError {
  return error instanceof ModelCallError && error.kind !== 'aborted' && error.kind !== 'invalid_output'
}

export function callOptions(prepared: PreparedGeneration, signal: AbortSignal | undefined): ChatCallOptions {
  return {
    ...(signal ? { signal } : {}),
    ...(prepared.temperature !== undefined ? { temperature: prepared.temperature } : {}),
    ...(prepared.maxTokens !== undefined ? { maxTokens: prepared.maxTokens } : {}),
    ...(prepared.jsonSchema !== undefined ? { jsonSchema: prepared.jsonSchema } : {}),
  }
}

export interface ModelOutput {
  text: string
  json?: unknown
  usage: ChatUsage
}

/**
 * One model, one answer. A JSON task's reply is validated against the schema; an invalid one is sent
 * back once with the validation error, and a second invalid reply fails the call.
 */
export async function completeWith(
  deps: Pick<GenerationDeps, 'logger'>,
  resolved: ResolvedModel,
  prepared: PreparedGeneration,
  signal: AbortSignal | undefined,
): Promise<ModelOutput> {
  const { model } = resolved
  const options = callOptions(prepared, signal)
  const first = await model.complete(prepared.messages, options)
  let usage = await usageOf(deps, resolved, prepared.messages, first.text, first.usage)
  if (prepared.jsonSchema === undefined) return { text: first.text, usage }
  const check = checkJsonOutput(first.text, prepared.jsonSchema)
  if (check.ok) return { text: first.text, json: check.value, usage }
  const retryMessages: ChatMessage[] = [
    ...prepared.messages,
    { role: 'assistant', content: first.text },
    {
      role: 'user',
      content: `${check.error} Reply again with only the corrected JSON, matching the schema exactly.`,
    },
  ]
  let second: Awaited<ReturnType<typeof model.complete>>
  try {
    second = await model.complete(retryMessages, options)
  } catch (error) {
    // The first reply was paid for: its usage goes into the failed row.
    throw Object.assign(error as object, { usage, text: first.text })
  }
  usage = addUsage(usage, await usageOf(deps, resolved, retryMessages, second.text, second.usage))
  const recheck = checkJsonOutput(second.text, prepared.jsonSchema)
  if (!recheck.ok) {
    throw Object.assign(new ModelCallError('invalid_output', recheck.error), { usage, text: second.text })
  }
  return { text: second.text, json: recheck.value, usage }
}

/**
 * The usage to log, charge and bill: the server's counts when plausible, else our own. A prompt packed
 * into the context window and a reply that fits beside it cannot need more than the window; twice the
 * window leaves room for servers whose tokenizer counts differently from our estimate.
 */
export async function usageOf(
  deps: Pick<GenerationDeps, 'logger'>,
  resolved: ResolvedModel,
  messages: readonly ChatMessage[],
  output: string,
  reported: ChatUsage | undefined,
): Promise<ChatUsage> {
  if (reported && isPlausible(reported, resolved.settings.contextWindow)) return reported
  if (reported) {
    deps.logger.warn(
      { model: resolved.settings.id, reported },
      'the model reported implausible usage; counting the tokens instead',
    )
  }
  return estimateUsage(resolved.settings.id, messages, output)
}

function isPlausible(usage: ChatUsage, contextWindow: number): boolean {
  const bound = 2 * contextWindow
  return [usage.promptTokens, usage.completionTokens].every(
    (count) => Number.isSafeInteger(count) && count >= 0 && count <= bound,
  )
}

/**
 * For servers that report no usage (or nonsense): our own count, in the model's encoding, so cost and
 * logs are never blank. Counted in slices that yield, since a reply or a conversation can be long.
 */
export async function estimateUsage(
  modelId: string,
  messages: readonly ChatMessage[],
  output: string,
): Promise<ChatUsage> {
  const encoding = encodingForModel(modelId)
  let promptTokens = 3
  for (const message of messages) promptTokens += (await countTokensAsync(message.content, encoding)) + 4
  return { promptTokens, completionTokens: await countTokensAsync(output, encoding) }
}

/** The client-facing error for a failed call: Onbrand's own account of it, never the provider's message. */
export function upstreamError(error: unknown, requestId: string): AppError {
  const failure = error instanceof ModelCallError ? error : new ModelCallError('other', 'model call failed')
  if (failure.kind === 'timeout') {
    return new AppError(
      'upstream_timeout',
      `The model did not answer in time. Request ${requestId} was logged.`,
    )
  }
  const what =
    failure.kind === 'invalid_output'
      ? failure.message
      : failure.kind === 'other'
        ? 'The model call failed.'
        : `The model call failed: ${failure.message}.`
  return new AppError('upstream_error', `${what} Request ${requestId} was logged.`)
}
