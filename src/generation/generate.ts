import type { ChatUsage } from './chat-model.js'
import { ModelCallError } from './chat-model.js'
import { buildCitations } from './citations.js'
import { costOf } from './cost.js'
import {
  canFallBack,
  completeWith,
  type ModelOutput,
  type ModelPlan,
  planModels,
  type ResolvedModel,
  upstreamError,
} from './model-call.js'
import { recordGeneration } from './record.js'
import { fallbackReason } from './routing.js'
import type { GenerationDeps, GenerationResult, PreparedGeneration, RouteInfo } from './types.js'

export function initialRoute(prepared: PreparedGeneration, plan: ModelPlan): RouteInfo {
  const { decision } = prepared
  if (!plan.primary && plan.fallback) {
    return {
      model: plan.fallback.settings.id,
      strategy: decision.strategy,
      reason: fallbackReason(decision, plan.skipped ?? 'no provider configured'),
      fellBack: true,
    }
  }
  return { model: decision.model, strategy: decision.strategy, reason: decision.reason, fellBack: false }
}

export function fellBackRoute(
  prepared: PreparedGeneration,
  fallback: ResolvedModel,
  error: ModelCallError,
): RouteInfo {
  return {
    model: fallback.settings.id,
    strategy: prepared.decision.strategy,
    reason: fallbackReason(prepared.decision, error.summary),
    fellBack: true,
  }
}

export function asModelCallError(deps: GenerationDeps, error: unknown): ModelCallError {
  if (error instanceof ModelCallError) return error
  deps.logger.error({ err: error }, 'unexpected error in a model call')
  return new ModelCallError('other', 'model call failed')
}

/**
 * The generation as the fallback model gets it: with the task's full template when the fine-tuned arm
 * had the shorter one (what is logged is what the model that answered was sent).
 */
export function forFallback(prepared: PreparedGeneration): PreparedGeneration {
  if (!prepared.fallbackPrompt) return prepared
  const { fallbackPrompt, ...rest } = prepared
  return { ...rest, ...fallbackPrompt, promptTemplate: 'foundation' }
}

export type Completion =
  | { ok: true; route: RouteInfo; model: ResolvedModel; output: ModelOutput; prepared: PreparedGeneration }
  | {
      ok: false
      route: RouteInfo
      model: ResolvedModel
      /** The generation as the model that ran last was sent it (see forFallback). */
      prepared: PreparedGeneration
      failure: ModelCallError
      /** What the failed call had produced and cost, for the log. */
      text: string | null
      usage: ChatUsage | null
    }

/**
 * One whole answer from the plan's models: the first, then the fallback when the first failed in a way
 * fallback can help with. Never throws for a model failure: the caller logs it and answers in its way.
 */
export async function completeWithFallback(
  deps: GenerationDeps,
  prepared: PreparedGeneration,
  plan: ModelPlan,
  signal?: AbortSignal,
): Promise<Completion> {
  let route = initialRoute(prepared, plan)
  let current = plan.primary ?? plan.fallback!
  let used = plan.primary ? prepared : forFallback(prepared)
  for (;;) {
    try {
      const output = await completeWith(deps, current, used, signal)
      return { ok: true, route, model: current, output, prepared: used }
    } catch (error) {
      const failure = asModelCallError(deps, error)
      if (current === plan.primary && plan.fallback && canFallBack(failure)) {
        deps.logger.warn(
          { model: current.settings.id, failure: failure.summary },
          'model failed; falling back',
        )
        route = fellBackRoute(prepared, plan.fallback, failure)
        current = plan.fallback
        used = forFallback(prepared)
        continue
      }
      const partial = error as { usage?: ChatUsage; text?: string }
      return {
        ok: false,
        route,
        model: current,
        prepared: used,
        failure,
        text: partial.text ?? null,
        usage: partial.usage ?? null,
      }
    }
  }
}

/** Run a prepared generation to completion (the non-streaming path), with fallback, logging and cost. */
export async function runGeneration(
  deps: GenerationDeps,
  prepared: PreparedGeneration,
  signal?: AbortSignal,
): Promise<GenerationResult> {
  const done = await completeWithFallback(deps, prepared, planModels(deps, prepared), signal)
  if (!done.ok) {
    recordFailure(deps, done.prepared, done.route, done.model, done.failure, done.text, done.usage)
    throw upstreamError(done.failure, prepared.request.requestId)
  }
  return finishGeneration(deps, done.prepared, done.route, done.model, done.output)
}

export async function finishGeneration(
  deps: GenerationDeps,
  prepared: PreparedGeneration,
  route: RouteInfo,
  model: ResolvedModel,
  output: ModelOutput,
  streamed = false,
): Promise<GenerationResult> {
  const latencyMs = elapsed(prepared)
  const costUsd = costOf(output.usage, model.settings.pricing)
  recordGeneration(
    deps,
    prepared,
    {
      route,
      output: output.text,
      usage: output.usage,
      costUsd,
      latencyMs,
      status: 'succeeded',
      error: null,
    },
    !streamed,
  )
  return {
    id: prepared.id,
    task: { name: prepared.task.taskName, version: prepared.task.version },
    output: output.text,
    ...(output.json !== undefined ? { json: output.json } : {}),
    ...buildCitations(prepared.passages, output.text),
    route,
    usage: { ...output.usage, costUsd },
    latencyMs,
  }
}

export function recordFailure(
  deps: GenerationDeps,
  prepared: PreparedGeneration,
  route: RouteInfo,
  model: ResolvedModel,
  failure: ModelCallError,
  partialOutput: string | null,
  usage: ChatUsage | null,
): void {
  recordGeneration(deps, prepared, {
    route,
    output: partialOutput,
    usage,
    costUsd: usage ? costOf(usage, model.settings.pricing) : null,
    latencyMs: elapsed(prepared),
    status: 'failed',
    error: failure.kind === 'aborted' ? 'client disconnected' : `${failure.summary}: ${failure.message}`,
  })
}

function elapsed(prepared: PreparedGeneration): number {
  return Math.round((performance.now() - prepared.startedAt) * 10) / 10
}
