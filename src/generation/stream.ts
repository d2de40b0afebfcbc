import { type ChatUsage, ModelCallError } from './chat-model.js'
import { asModelCallError, fellBackRoute, finishGeneration, initialRoute, recordFailure } from './generate.js'
import { checkJsonOutput } from './json-output.js'
import { callOptions, canFallBack, estimateUsage, planModels, upstreamError } from './model-call.js'
import type { GenerationDeps, GenerationEvent, PreparedGeneration } from './types.js'

/**
 * The streaming path. Throws (before yielding anything) only for a missing provider. A failure before
 * the first token moves to the fallback model as in the non-streaming path; once text has been sent it
 * cannot be taken back, so a later failure ends the stream with an `error` event and a failed log row.
 * A JSON task's output is validated at the end (no retry: the text is already out) and an invalid one
 * ends with an `error` event.
 */
export function streamGeneration(
  deps: GenerationDeps,
  prepared: PreparedGeneration,
  signal?: AbortSignal,
): AsyncGenerator<GenerationEvent> {
  const plan = planModels(deps, prepared)
  return run()

  async function* run(): AsyncGenerator<GenerationEvent> {
    let route = initialRoute(prepared, plan)
    let current = plan.primary ?? plan.fallback!
    const task = { name: prepared.task.taskName, version: prepared.task.version }
    let text = ''
    let usage: ChatUsage | undefined
    let started = false
    const options = callOptions(prepared, signal)
    for (;;) {
      try {
        for await (const event of current.model.stream(prepared.messages, options)) {
          if (event.type === 'usage') {
            usage = event.usage
            continue
          }
          if (!started) {
            started = true
            yield { type: 'meta', id: prepared.id, task, route }
          }
          text += event.text
          yield { type: 'delta', text: event.text }
        }
        break
      } catch (error) {
        const failure = asModelCallError(deps, error)
        if (!started && plan.primary && plan.fallback && current === plan.primary && canFallBack(failure)) {
          deps.logger.warn(
            { model: current.settings.id, failure: failure.summary },
            'model failed; falling back',
          )
          route = fellBackRoute(prepared, plan.fallback, failure)
          current = plan.fallback
          continue
        }
        recordFailure(deps, prepared, route, current, failure, text === '' ? null : text, usage ?? null)
        if (failure.kind === 'aborted') return
        const problem = upstreamError(failure, prepared.request.requestId)
        yield {
          type: 'error',
          code: problem.code === 'upstream_timeout' ? 'upstream_timeout' : 'upstream_error',
          detail: problem.detail,
          requestId: prepared.request.requestId,
          id: prepared.id,
        }
        return
      }
    }
    if (!started) yield { type: 'meta', id: prepared.id, task, route }
    const finalUsage = usage ?? estimateUsage(current.settings.id, prepared.messages, text)
    let json: unknown
    if (prepared.jsonSchema !== undefined) {
      const check = checkJsonOutput(text, prepared.jsonSchema)
      if (!check.ok) {
        const failure = new ModelCallError('invalid_output', check.error)
        recordFailure(deps, prepared, route, current, failure, text, finalUsage)
        yield {
          type: 'error',
          code: 'upstream_error',
          detail: `${check.error} Request ${prepared.request.requestId} was logged.`,
          requestId: prepared.request.requestId,
          id: prepared.id,
        }
        return
      }
      json = check.value
    }
    const result = await finishGeneration(
      deps,
      prepared,
      route,
      current,
      {
        text,
        usage: finalUsage,
        ...(json !== undefined ? { json } : {}),
      },
      true,
    )
    yield { type: 'done', result }
  }
}
