import { type OpenAPIHono, z } from '@hono/zod-openapi'
import { streamSSE } from 'hono/streaming'
import { AppError } from '../../../errors.js'
import {
  ChatCompletionRequest,
  chatCompletionBody,
  chunkBody,
  completionId,
  lastUserText,
  onbrandExtras,
  openAIUsage,
  toConversation,
} from '../../../generation/chat-completions.js'
import { runGeneration } from '../../../generation/generate.js'
import { prepareGeneration } from '../../../generation/prepare.js'
import { streamGeneration } from '../../../generation/stream.js'
import { linkedAbort } from '../../../lib/abort.js'
import type { Services } from '../../../services.js'
import { TaskName } from '../../../tasks/task-definition.js'
import type { AppEnv } from '../../context.js'
import { addOpenAIErrorField } from '../../openai-errors.js'
import { problemResponses } from '../../problem.js'
import { protectedRoute } from '../../protected-route.js'

export function registerChatCompletionRoutes(app: OpenAPIHono<AppEnv>, services: Services): void {
  app.use('/v1/chat/completions', addOpenAIErrorField())
  app.openapi(
    protectedRoute(services, 'generate', {
      method: 'post',
      path: '/v1/chat/completions',
      tags: ['generation'],
      summary: 'OpenAI-compatible chat completions: `model` names the task',
      description:
        "The last user message is the retrieval query; the task's system prompt with the retrieved passages " +
        'goes first. Streaming uses the OpenAI chunk format and ends with `data: [DONE]`. Onbrand extras ' +
        '(generation id, route, citations, cost) are under `onbrand`: in the response, or in a stream on the one ' +
        'chunk whose `finish_reason` is set (with `stream_options.include_usage`, the usage chunk follows it). ' +
        'Fields Onbrand cannot honour (tools, response formats other than text, n > 1, non-text content parts, …) ' +
        'are refused with 400 naming them. Errors are problem+json with an OpenAI-style `error` field ' +
        '(`param` names the offending field of a 400).',
      request: {
        body: { required: true, content: { 'application/json': { schema: ChatCompletionRequest } } },
      },
      responses: {
        200: {
          description: 'A chat.completion object, or (stream: true) chat.completion.chunk events',
          content: {
            'application/json': { schema: z.object({ object: z.literal('chat.completion') }).passthrough() },
            'text/event-stream': { schema: z.string() },
          },
        },
        ...problemResponses(400, 404, 413, 502, 503, 504),
      },
    }),
    async (c) => {
      const body = c.req.valid('json')
      const input = lastUserText(body.messages)
      if (input === undefined) {
        throw new AppError('validation_failed', 'The messages hold no user message to answer.', {
          errors: [{ path: 'messages', message: 'needs at least one message with role "user"' }],
        })
      }
      if (!TaskName.safeParse(body.model).success)
        throw new AppError('not_found', `No task named ${body.model}.`)
      const gen = { ...services.generation, logger: c.get('logger') }
      const signal = c.req.raw.signal
      const extras = body.onbrand ?? {}
      const maxTokensField = body.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens'
      const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? undefined
      const subject = extras.subject ?? body.user
      const prepared = await prepareGeneration(
        gen,
        {
          task: body.model,
          input,
          conversation: toConversation(body.messages),
          ...(extras.variables ? { variables: extras.variables } : {}),
          ...(extras.collection ? { collection: extras.collection } : {}),
          ...(extras.filters ? { filters: extras.filters } : {}),
          ...(subject ? { subject } : {}),
          ...(body.temperature != null ? { temperature: body.temperature } : {}),
          ...(maxTokens !== undefined ? { maxTokens, maxTokensField } : {}),
          requestId: c.get('requestId'),
          apiKey: c.get('apiKey'),
          endpoint: 'chat_completions',
        },
        signal,
      )
      const created = Math.floor(Date.now() / 1000)
      if (!body.stream) {
        return c.json(
          chatCompletionBody(await runGeneration(gen, prepared, signal), body.model, created),
          200,
        )
      }

      // Aborts with the request, or when the stream's client goes away (onAbort below).
      const disconnect = linkedAbort([signal])
      const events = streamGeneration(gen, prepared, disconnect.signal)
      const id = completionId(prepared.id)
      const includeUsage = body.stream_options?.include_usage === true
      // OpenAI sends `usage: null` on every chunk but the last when usage was asked for.
      const usageField = includeUsage ? { usage: null } : {}
      return streamSSE(c, async (stream) => {
        stream.onAbort(() => disconnect.abort())
        const send = (payload: unknown) => stream.writeSSE({ data: JSON.stringify(payload) })
        for await (const event of events) {
          if (event.type === 'meta') {
            await send(
              chunkBody(
                id,
                body.model,
                created,
                [
                  {
                    index: 0,
                    delta: { role: 'assistant', content: '' },
                    logprobs: null,
                    finish_reason: null,
                  },
                ],
                usageField,
              ),
            )
          } else if (event.type === 'delta') {
            await send(
              chunkBody(
                id,
                body.model,
                created,
                [{ index: 0, delta: { content: event.text }, logprobs: null, finish_reason: null }],
                usageField,
              ),
            )
          } else if (event.type === 'done') {
            await send(
              chunkBody(
                id,
                body.model,
                created,
                [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }],
                {
                  ...usageField,
                  onbrand: onbrandExtras(event.result),
                },
              ),
            )
            if (includeUsage)
              await send(chunkBody(id, body.model, created, [], { usage: openAIUsage(event.result) }))
            await stream.writeSSE({ data: '[DONE]' })
          } else {
            // The OpenAI SDKs raise an APIError for a data event carrying `error`.
            await send({
              error: {
                message: `${event.detail}`,
                type: event.code,
                param: null,
                code: event.code,
              },
              onbrand: { id: event.id, requestId: event.requestId },
            })
          }
        }
      })
    },
  )
}
