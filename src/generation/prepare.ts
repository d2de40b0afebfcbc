import { randomUUID } from 'node:crypto'
import { assertCollectionAllowed } from '../collections/access.js'
import type { TaskVersionRow } from '../db/tasks.js'
import { AppError } from '../errors.js'
import { type Passage, RETRIEVAL_LIMITS } from '../retrieval/types.js'
import { encodingForModel } from '../tokens/tokenizer.js'
import { buildCitations } from './citations.js'
import { assemblePrompt, promptRoom } from './prompt.js'
import { decideRoute } from './routing.js'
import { checkVariables, templateVariables } from './template.js'
import type { DryRunResult, GenerateInput, GenerationDeps, PreparedGeneration } from './types.js'

/** Tokens kept free for the reply when a task sets no maxTokens. */
const DEFAULT_REPLY_TOKENS = 1024

/**
 * Everything before the model call: task, variables, retrieval, routing, messages. Any failure here
 * is the caller's or the data's, answered before a stream opens, so it can carry a proper status.
 */
export async function prepareGeneration(
  deps: GenerationDeps,
  request: GenerateInput,
  signal?: AbortSignal,
): Promise<PreparedGeneration> {
  const startedAt = performance.now()
  if (request.input.length > deps.maxInputChars) {
    throw new AppError(
      'payload_too_large',
      `The input has ${request.input.length} characters; the limit is ${deps.maxInputChars}.`,
    )
  }
  const task = await deps.tasks.get(request.task)
  if (!task) throw new AppError('not_found', `No task named ${request.task} with an active version.`)
  // The allowlist check comes before anything that depends on the input: whatever the input holds
  // (nothing, whitespace), a key never gets the prompt of a task bound to a collection it may not use.
  const collection = request.collection ?? task.retrieval.collection ?? null
  if (collection !== null && request.apiKey) assertCollectionAllowed(request.apiKey, collection)
  if (request.input.trim() === '') throw blankInput(request.endpoint)

  const variables = request.variables ?? {}
  const problems = checkVariables(templateVariables(task.systemPrompt), variables)
  if (problems.missing.length > 0 || problems.unknown.length > 0) {
    throw new AppError('validation_failed', `The variables do not match task ${task.taskName}.`, {
      errors: [
        ...problems.missing.map((name) => ({ path: `variables.${name}`, message: 'required by the task' })),
        ...problems.unknown.map((name) => ({
          path: `variables.${name}`,
          message: 'not declared by the task',
        })),
      ],
    })
  }

  const passages = await retrievePassages(deps, request, task, collection, signal)

  const decision = decideRoute(task.route, task.taskName, request.subject ?? request.requestId)
  // Usually answered from the process's copy; a model registered by another process is read at once.
  await deps.models.ensure([decision.model, decision.fallbackModel])
  const maxTokens = request.maxTokens ?? task.maxTokens ?? undefined
  const temperature = request.temperature ?? task.temperature ?? undefined
  // Pack for the smaller window of the two models the request may end up on.
  const contextWindow = Math.min(
    deps.models.contextWindow(decision.model),
    decision.fallbackModel ? deps.models.contextWindow(decision.fallbackModel) : Number.POSITIVE_INFINITY,
  )
  const conversation = request.conversation ?? [{ role: 'user' as const, content: request.input }]
  const replyTokens = maxTokens ?? DEFAULT_REPLY_TOKENS
  if (promptRoom({ contextWindow, replyTokens, conversation }) <= 0)
    throw replyBudgetError(request, task, replyTokens, contextWindow)
  // The fine-tuned arm gets the task's shorter template when it has one; its fallback the full one.
  const fineTunedTemplate =
    decision.fallbackModel !== undefined ? task.route.fineTunedSystemPrompt : undefined
  const assemble = (systemPrompt: string, model: string) =>
    assemblePrompt(
      {
        systemPrompt,
        variables,
        passages,
        conversation,
        contextWindow,
        replyTokens,
        encoding: encodingForModel(model),
      },
      signal,
    )
  const assembled = await assemble(fineTunedTemplate ?? task.systemPrompt, decision.model)
  const fallbackPrompt =
    fineTunedTemplate !== undefined && decision.fallbackModel !== undefined
      ? await assemble(task.systemPrompt, decision.fallbackModel)
      : undefined

  return {
    id: randomUUID(),
    startedAt,
    request,
    task,
    collection,
    messages: assembled.messages,
    passages: assembled.passages,
    droppedPassages: assembled.droppedPassages,
    decision,
    promptTemplate: fineTunedTemplate !== undefined ? 'fine_tuned' : 'foundation',
    ...(fallbackPrompt
      ? {
          fallbackPrompt: {
            messages: fallbackPrompt.messages,
            passages: fallbackPrompt.passages,
            droppedPassages: fallbackPrompt.droppedPassages,
          },
        }
      : {}),
    ...(temperature !== undefined ? { temperature } : {}),
    ...(maxTokens !== undefined ? { maxTokens } : {}),
    ...(task.output.type === 'json' ? { jsonSchema: task.output.schema as Record<string, unknown> } : {}),
  }
}

export function dryRunResult(prepared: PreparedGeneration): DryRunResult {
  return {
    dryRun: true,
    task: { name: prepared.task.taskName, version: prepared.task.version },
    messages: prepared.messages,
    route: {
      model: prepared.decision.model,
      strategy: prepared.decision.strategy,
      reason: prepared.decision.reason,
      fallbackModel: prepared.decision.fallbackModel ?? null,
      template: prepared.promptTemplate,
    },
    droppedPassages: prepared.droppedPassages,
    ...buildCitations(prepared.passages, ''),
  }
}

async function retrievePassages(
  deps: GenerationDeps,
  request: GenerateInput,
  task: TaskVersionRow,
  collection: string | null,
  signal: AbortSignal | undefined,
): Promise<Passage[]> {
  if (collection === null) return []
  const retrieved = await deps.retrieve({
    collection,
    // Inputs may be long briefs; retrieval takes a bounded query, and the opening carries the topic.
    query: request.input.trim().slice(0, RETRIEVAL_LIMITS.queryMaxChars),
    // Plain words: a brief's quotes and dashes are prose ('a tagline for "Trailmaster" -- short'), not
    // search syntax that would require every word and restrict both arms to chunks matching them.
    searchSyntax: false,
    ...(task.retrieval.k !== undefined ? { k: task.retrieval.k } : {}),
    // The request's filters narrow the task's, never replace them: both sets apply.
    ...(request.filters ? { filters: request.filters } : {}),
    ...(task.retrieval.filters ? { scopeFilters: task.retrieval.filters } : {}),
    ...(task.retrieval.budgetTokens !== undefined ? { budgetTokens: task.retrieval.budgetTokens } : {}),
    ...(signal ? { signal } : {}),
  })
  return retrieved.passages
}

function blankInput(endpoint: GenerateInput['endpoint']): AppError {
  const path = endpoint === 'chat_completions' ? 'messages' : 'input'
  const what = endpoint === 'chat_completions' ? 'The last user message' : 'The input'
  return new AppError('validation_failed', `${what} is empty or only whitespace.`, {
    errors: [{ path, message: 'must contain text' }],
  })
}

/**
 * A reply budget that leaves the prompt no room: the request's own setting is a 400 naming its field;
 * the task's (or the default) is named too, since the caller cannot tell which one it was.
 */
function replyBudgetError(
  request: GenerateInput,
  task: Pick<TaskVersionRow, 'taskName' | 'maxTokens'>,
  replyTokens: number,
  contextWindow: number,
): AppError {
  const room = `leaves no room for the prompt in the model's context window of ${contextWindow} tokens`
  if (request.maxTokens !== undefined) {
    const field = request.maxTokensField ?? 'maxTokens'
    return new AppError('validation_failed', `The reply budget is too large for the model.`, {
      errors: [{ path: field, message: `${replyTokens} ${room}; ask for fewer tokens` }],
    })
  }
  const budget =
    task.maxTokens !== null
      ? `Task ${task.taskName}'s maxTokens (${replyTokens}) ${room}; lower it`
      : `The default reply budget of ${replyTokens} tokens ${room}; set the task's maxTokens`
  return new AppError('bad_request', `${budget}.`)
}
