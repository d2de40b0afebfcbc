import type { ChatUsage, ModelCallError } from './chat-model.js'
import {
  asModelCallError,
  completeWithFallback,
  fellBackRoute,
  finishGeneration,
  forFallback,
  initialRoute,
  recordFailure,
} from './generate.js'
import { callOptions, canFallBack, type ModelPlan, planModels, upstreamError, usageOf } from './model-call.js'
import type { GenerationDeps, GenerationEvent, PreparedGeneration, RouteInfo } from './types.js'

/**
 * The streaming path; it fails as the non-streaming one does. Throws (before yielding anything) only
 * for a missing provider; otherwise the stream always ends with `done` or `error`, and every model
 * call leaves one log row.
 *
 * - Text tasks stream the model's deltas. A failure before the first token (an error status, a timeout,
 *   a reply that is no completion) moves to the fallback model; once text has been sent it cannot be
 *   taken back, so a later failure ends the stream with an `error` event and a failed log row.
 * - JSON tasks are validated before anything is sent, with the same one retry and fallback as without
 *   streaming; the valid JSON then goes out as one delta. Streaming invalid JSON only to retract it would
 *   help no client.
 */
export function streamGeneration(
  deps: GenerationDeps,
  prepared: PreparedGeneration,
  signal?: AbortSignal,
): AsyncGenerator<GenerationEvent> {
  const plan = planModels(deps, prepared)
  const events =
    prepared.jsonSchema !== undefined
      ? streamValidated(deps, prepared, plan, signal)
      : streamText(deps, prepared, plan, signal)
  return endsWithAnAnswer(deps, prepared, events)
}

async function* streamValidated(
  deps: GenerationDeps,
  prepared: PreparedGeneration,
  plan: ModelPlan,
  signal: AbortSignal | undefined,
): AsyncGenerator<GenerationEvent> {
  const done = await completeWithFallback(deps, prepared, plan, signal)
  if (!done.ok) {
    recordFailure(deps, done.prepared, done.route, done.model, done.failure, done.text, done.usage)
    if (done.failure.kind !== 'aborted') yield errorEvent(prepared, done.failure)
    return
  }
  yield metaEvent(prepared, done.route)
  yield { type: 'delta', text: done.output.text }
  const result = await finishGeneration(deps, done.prepared, done.route, done.model, done.output, true)
  yield { type: 'done', result }
}

async function* streamText(
  deps: GenerationDeps,
  prepared: PreparedGeneration,
  plan: ModelPlan,
  signal: AbortSignal | undefined,
): AsyncGenerator<GenerationEvent> {
  let route = initialRoute(prepared, plan)
  let current = plan.primary ?? plan.fallback!
  let used = plan.primary ? prepared : forFallback(prepared)
  let text = ''
  let usage: ChatUsage | undefined
  let started = false
  const options = callOptions(prepared, signal)
  for (;;) {
    try {
      for await (const event of current.model.stream(used.messages, options)) {
        if (event.type === 'usage') {
          usage = event.usage
          continue
        }
        if (!started) {
          started = true
          yield metaEvent(prepared, route)
        }
        text += event.text
        yield { type: 'delta', text: event.text }
      }
      break
    } catch (error) {
      const failure = asModelCallError(deps, error)
      if (!started && current === plan.primary && plan.fallback && canFallBack(failure)) {
        deps.logger.warn(
          { model: current.settings.id, failure: failure.summary },
          'model failed; falling back',
        )
        route = fellBackRoute(prepared, plan.fallback, failure)
        current = plan.fallback
        used = forFallback(prepared)
        usage = undefined
        continue
      }
      // A reply cut off mid-way was still paid for: count what arrived when the server said nothing.
      const spent = started || usage ? await usageOf(deps, current, used.messages, text, usage) : null
      recordFailure(deps, used, route, current, failure, text === '' ? null : text, spent)
      if (failure.kind !== 'aborted') yield errorEvent(prepared, failure)
      return
    }
  }
  const finalUsage = await usageOf(deps, current, used.messages, text, usage)
  const result = await finishGeneration(deps, used, route, current, { text, usage: finalUsage }, true)
  yield { type: 'done', result }
}

/**
 * The last line of defence for "a stream ends with done or error": a bug past the model call must not
 * leave the client waiting on a stream that just stops.
 */
async function* endsWithAnAnswer(
  deps: GenerationDeps,
  prepared: PreparedGeneration,
  events: AsyncGenerator<GenerationEvent>,
): AsyncGenerator<GenerationEvent> {
  let ended = false
  try {
    for await (const event of events) {
      if (event.type === 'done' || event.type === 'error') ended = true
      yield event
    }
  } catch (error) {
    deps.logger.error({ err: error, generationId: prepared.id }, 'streaming a generation failed')
    if (!ended) {
      yield {
        type: 'error',
        code: 'internal',
        detail: `An unexpected error ended the stream. Quote request ${prepared.request.requestId} when reporting it.`,
        requestId: prepared.request.requestId,
        id: prepared.id,
      }
    }
  }
}

function metaEvent(prepared: PreparedGeneration, route: RouteInfo): GenerationEvent {
  return {
    type: 'meta',
    id: prepared.id,
    task: { name: prepared.task.taskName, version: prepared.task.version },
    route,
  }
}

function errorEvent(prepared: PreparedGeneration, failure: ModelCallError): GenerationEvent {
  const problem = upstreamError(failure, prepared.request.requestId)
  return {
    type: 'error',
    code: problem.code === 'upstream_timeout' ? 'upstream_timeout' : 'upstream_error',
    detail: problem.detail,
    requestId: prepared.request.requestId,
    id: prepared.id,
  }
}
