import { z } from '@hono/zod-openapi'
import { CollectionName } from '../collections/collection-name.js'
import { RetrievalFilters } from '../retrieval/types.js'
import type { ChatMessage } from './chat-model.js'
import type { GenerationResult } from './types.js'

/** Only the parts Onbrand uses; other OpenAI fields (top_p, seed, …) are accepted and ignored. */
const ContentPart = z.object({ type: z.string(), text: z.string().optional() })

const OpenAIMessage = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
  content: z.union([z.string(), z.array(ContentPart), z.null()]).optional(),
  name: z.string().optional(),
})

export const ChatCompletionRequest = z
  .object({
    model: z.string().min(1).max(200).openapi({ description: 'The Onbrand task to run' }),
    messages: z.array(OpenAIMessage).min(1).max(1000),
    stream: z.boolean().nullable().optional(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).nullable().optional(),
    temperature: z.number().min(0).max(2).nullable().optional(),
    max_tokens: z.number().int().min(1).nullable().optional(),
    max_completion_tokens: z.number().int().min(1).nullable().optional(),
    n: z.literal(1).nullable().optional().openapi({ description: 'Only one choice is supported' }),
    user: z.string().min(1).max(200).optional().openapi({ description: 'Keys the A/B split' }),
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
  .openapi('ChatCompletionRequest')
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequest>

type OpenAIMessage = z.infer<typeof OpenAIMessage>

function textOf(message: OpenAIMessage): string {
  const { content } = message
  if (typeof content === 'string') return content
  if (Array.isArray(content))
    return content.map((part) => (part.type === 'text' ? (part.text ?? '') : '')).join('')
  return ''
}

/** The caller's conversation as Onbrand messages; tool traffic has no place in a task prompt. */
export function toConversation(messages: readonly OpenAIMessage[]): ChatMessage[] {
  const out: ChatMessage[] = []
  for (const message of messages) {
    if (message.role === 'tool' || message.role === 'function') continue
    const role = message.role === 'developer' ? 'system' : message.role
    out.push({ role, content: textOf(message) })
  }
  return out
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
