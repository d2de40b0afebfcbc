import { z } from '@hono/zod-openapi'
import { CollectionName } from '../collections/collection-name.js'
import { RetrievalFilters } from '../retrieval/types.js'
import { type ChatMessage, ReplyTokens } from './chat-model.js'
import type { GenerationResult } from './types.js'

/**
 * A field Onbrand does not support: absent, null or `accept`ed (a value that asks for nothing, like
 * `tools: []`) passes; anything else is a 400 naming the field and saying why, never silently dropped.
 */
function refused(why: string, accept: (value: unknown) => boolean = () => false) {
  return z
    .unknown()
    .optional()
    .refine((value) => value === undefined || value === null || accept(value), {
      error: `not supported: ${why}`,
    })
    .openapi({ description: `Not supported: ${why}. Refused with 400 unless absent or null.` })
}

/** A field accepted for compatibility that has no effect; listed in the README. */
function ignored(what: string) {
  return z
    .unknown()
    .optional()
    .openapi({ description: `Accepted and ignored: ${what}` })
}

const isEmptyArray = (value: unknown) => Array.isArray(value) && value.length === 0
const NO_TOOLS = 'tasks answer in text or in their JSON output and call no tools'

/** Text parts only: an image, audio or file part is refused, not read as an empty string. */
const ContentPart = z
  .object({ type: z.string().max(100), text: z.string().optional() })
  .catchall(z.unknown())
  .superRefine((part, ctx) => {
    if (part.type !== 'text') {
      ctx.addIssue({
        code: 'custom',
        path: ['type'],
        message: `not supported: only "text" content parts are read; "${part.type}" parts are refused`,
      })
      return
    }
    if (part.text === undefined) ctx.addIssue({ code: 'custom', path: ['text'], message: 'required' })
    for (const key of Object.keys(part))
      if (key !== 'type' && key !== 'text')
        ctx.addIssue({ code: 'custom', path: [key], message: 'unknown field of a text part' })
  })

const OpenAIMessage = z
  .object({
    role: z.enum(['system', 'developer', 'user', 'assistant'], {
      error: `must be "system", "developer", "user" or "assistant" (tool and function messages are not supported: ${NO_TOOLS})`,
    }),
    content: z.union([z.string(), z.array(ContentPart).max(1000), z.null()]).optional(),
    name: ignored('participant names'),
    refusal: ignored("an assistant message's refusal text"),
    tool_calls: refused(NO_TOOLS, isEmptyArray),
    function_call: refused(NO_TOOLS),
    tool_call_id: refused(NO_TOOLS),
    audio: refused('audio'),
  })
  .strict()

export const ChatCompletionRequest = z
  .object({
    model: z.string().min(1).max(200).openapi({ description: 'The Onbrand task to run' }),
    messages: z.array(OpenAIMessage).min(1).max(1000),
    stream: z.boolean().nullable().optional(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).strict().nullable().optional(),
    temperature: z.number().min(0).max(2).nullable().optional(),
    max_tokens: ReplyTokens.nullable().optional(),
    max_completion_tokens: ReplyTokens.nullable()
      .optional()
      .openapi({ description: 'Takes precedence over max_tokens' }),
    n: z
      .number()
      .refine((n) => n === 1, { error: 'not supported: only 1 choice is returned' })
      .nullable()
      .optional()
      .openapi({ description: 'Only 1 is supported' }),
    user: z.string().min(1).max(200).optional().openapi({ description: 'Keys the A/B split' }),
    tools: refused(NO_TOOLS, isEmptyArray),
    tool_choice: refused(NO_TOOLS, (value) => value === 'none'),
    functions: refused(NO_TOOLS, isEmptyArray),
    function_call: refused(NO_TOOLS, (value) => value === 'none'),
    response_format: refused(
      `only {"type": "text"}; the task's output setting decides the format, and a JSON task's reply is validated against its schema`,
      (value) => typeof value === 'object' && (value as { type?: unknown }).type === 'text',
    ),
    stop: refused('stop sequences', isEmptyArray),
    logprobs: refused('log probabilities', (value) => value === false),
    top_logprobs: refused('log probabilities', (value) => value === 0),
    audio: refused('audio output'),
    modalities: refused(
      'only text output',
      (value) => Array.isArray(value) && value.every((modality) => modality === 'text'),
    ),
    prediction: refused('predicted outputs'),
    web_search_options: refused('web search'),
    top_p: ignored('sampling is set by the task and `temperature`'),
    frequency_penalty: ignored('sampling is set by the task and `temperature`'),
    presence_penalty: ignored('sampling is set by the task and `temperature`'),
    logit_bias: ignored('sampling is set by the task and `temperature`'),
    seed: ignored('sampling is set by the task and `temperature`'),
    parallel_tool_calls: ignored('no tools are called'),
    store: ignored('every request is logged in the generation log'),
    metadata: ignored('every request is logged in the generation log'),
    service_tier: ignored('provider settings are per model (MODELS_FILE)'),
    reasoning_effort: ignored('provider settings are per model (MODELS_FILE)'),
    verbosity: ignored('provider settings are per model (MODELS_FILE)'),
    prompt_cache_key: ignored('provider settings are per model (MODELS_FILE)'),
    prompt_cache_retention: ignored('provider settings are per model (MODELS_FILE)'),
    safety_identifier: ignored('`user` keys the A/B split'),
    onbrand: z
      .object({
        collection: CollectionName.optional(),
        variables: z.record(z.string(), z.string().max(20_000)).optional(),
        filters: RetrievalFilters.optional(),
        subject: z.string().min(1).max(200).optional(),
      })
      .strict()
      .optional()
      .openapi({ description: 'Onbrand extensions: collection, task variables, retrieval filters, subject' }),
  })
  .strict()
  .openapi('ChatCompletionRequest', {
    description:
      'An OpenAI chat completion request. Fields Onbrand cannot honour are refused with 400 naming them; ' +
      'the fields marked "Accepted and ignored" have no effect; any other field is refused as unknown.',
  })
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequest>

type OpenAIMessage = z.infer<typeof OpenAIMessage>

function textOf(message: OpenAIMessage): string {
  const { content } = message
  if (typeof content === 'string') return content
  if (Array.isArray(content))
    return content.map((part) => (part.type === 'text' ? (part.text ?? '') : '')).join('')
  return ''
}

/** The caller's conversation as Onbrand messages (tool messages are refused by the schema). */
export function toConversation(messages: readonly OpenAIMessage[]): ChatMessage[] {
  return messages.map((message) => ({
    role: message.role === 'developer' ? 'system' : message.role,
    content: textOf(message),
  }))
}

/** The retrieval query: the last user message. */
export function lastUserText(messages: readonly OpenAIMessage[]): string | undefined {
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i]!
    if (message.role === 'user') return textOf(message)
  }
  return undefined
}

export function completionId(generationId: string): string {
  return `chatcmpl-${generationId.replaceAll('-', '')}`
}

export function onbrandExtras(result: GenerationResult) {
  return {
    id: result.id,
    /** The id to send feedback with (PUT /v1/generations/{id}/feedback); the same as `id`. */
    generationId: result.id,
    task: result.task,
    route: result.route,
    citations: result.citations,
    invalidCitations: result.invalidCitations,
    costUsd: result.usage.costUsd,
    latencyMs: result.latencyMs,
  }
}

export function openAIUsage(result: GenerationResult) {
  return {
    prompt_tokens: result.usage.promptTokens,
    completion_tokens: result.usage.completionTokens,
    total_tokens: result.usage.promptTokens + result.usage.completionTokens,
  }
}

export function chatCompletionBody(result: GenerationResult, model: string, created: number) {
  return {
    id: completionId(result.id),
    object: 'chat.completion' as const,
    created,
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant' as const, content: result.output, refusal: null },
        logprobs: null,
        finish_reason: 'stop' as const,
      },
    ],
    usage: openAIUsage(result),
    onbrand: onbrandExtras(result),
  }
}

export function chunkBody(
  id: string,
  model: string,
  created: number,
  choices: unknown[],
  extra: Record<string, unknown> = {},
) {
  return { id, object: 'chat.completion.chunk' as const, created, model, choices, ...extra }
}
