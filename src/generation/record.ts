import type { StoredPassage } from '../db/generations.js'
import { observeGeneration } from '../observability/metrics.js'
import type { Passage } from '../retrieval/types.js'
import type { ChatUsage } from './chat-model.js'
import type { GenerationDeps, PreparedGeneration, RouteInfo } from './types.js'

export interface Outcome {
  route: RouteInfo
  output: string | null
  usage: ChatUsage | null
  costUsd: number | null
  latencyMs: number
  status: 'succeeded' | 'failed'
  error: string | null
}

/**
 * Queue the generations row (written in batches, see GenerationLogWriter), charge the tokens to the
 * key's rate limit, and write one log line. Nothing here waits on the database, so a logging failure
 * cannot turn a delivered answer into an error.
 */
export function recordGeneration(
  deps: GenerationDeps,
  prepared: PreparedGeneration,
  outcome: Outcome,
  canonical = false,
): void {
  const { request } = prepared
  const summary = {
    generationId: prepared.id,
    task: prepared.task.taskName,
    taskVersion: prepared.task.version,
    endpoint: request.endpoint,
    model: outcome.route.model,
    strategy: outcome.route.strategy,
    fellBack: outcome.route.fellBack,
    promptTokens: outcome.usage?.promptTokens ?? null,
    completionTokens: outcome.usage?.completionTokens ?? null,
    costUsd: outcome.costUsd,
    latencyMs: outcome.latencyMs,
    status: outcome.status,
    ...(outcome.error ? { error: outcome.error } : {}),
  }
  observeGeneration(deps.metrics, {
    task: prepared.task.taskName,
    model: outcome.route.model,
    strategy: outcome.route.strategy,
    latencyMs: outcome.latencyMs,
    promptTokens: outcome.usage?.promptTokens,
    completionTokens: outcome.usage?.completionTokens,
    fellBack: outcome.route.fellBack,
    arm: routeArm(prepared),
    costUsd: outcome.costUsd,
    status: outcome.status,
  })
  const logger = deps.logger
  if (outcome.status === 'failed') logger.warn(summary, 'generation failed')
  // A canonical log line: the request's access line (written as the response leaves) carries the
  // summary, one write instead of two on the hot path. A stream's access line is written when the
  // stream opens, before the outcome is known, so streams log their own line.
  else if (canonical) logger.setBindings({ generation: summary })
  else logger.info(summary, 'generation')
  if (request.apiKey && outcome.usage) {
    deps.rateLimiter.chargeTokens(
      request.apiKey.id,
      outcome.usage.promptTokens + outcome.usage.completionTokens,
    )
  }
  deps.generationLog.write({
    id: prepared.id,
    requestId: request.requestId,
    taskVersionId: prepared.task.id,
    apiKeyId: request.apiKey?.id ?? null,
    collectionName: prepared.collection,
    endpoint: request.endpoint,
    subject: request.subject ?? null,
    strategy: outcome.route.strategy,
    routeReason: outcome.route.reason,
    model: outcome.route.model,
    fellBack: outcome.route.fellBack,
    chunkIds: prepared.passages.flatMap((passage) => passage.chunkIds),
    input: {
      input: request.input,
      ...(request.variables ? { variables: request.variables } : {}),
      ...(request.conversation ? { messages: request.conversation } : {}),
    },
    output: outcome.output,
    promptTokens: outcome.usage?.promptTokens ?? null,
    completionTokens: outcome.usage?.completionTokens ?? null,
    costUsd: outcome.costUsd,
    latencyMs: Math.round(outcome.latencyMs),
    status: outcome.status,
    error: outcome.error,
    messages: prepared.messages,
    passages: prepared.passages.map(storedPassage),
    promptTemplate: prepared.promptTemplate,
    routeArm: routeArm(prepared),
  })
}

/** The arm the route chose: a fine-tuned choice has the foundation model as its fallback. */
function routeArm(prepared: PreparedGeneration): 'foundation' | 'fine_tuned' {
  return prepared.decision.fallbackModel === undefined ? 'foundation' : 'fine_tuned'
}

function storedPassage(passage: Passage): StoredPassage {
  return {
    documentId: passage.documentId,
    sourceId: passage.sourceId,
    title: passage.title,
    kind: passage.kind,
    headingPath: passage.headingPath,
    text: passage.text,
    chunkIds: passage.chunkIds,
  }
}
