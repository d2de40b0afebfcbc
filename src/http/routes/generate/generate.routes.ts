import { type OpenAPIHono, z } from '@hono/zod-openapi'
import { streamSSE } from 'hono/streaming'
import { runGeneration } from '../../../generation/generate.js'
import { dryRunResult, prepareGeneration } from '../../../generation/prepare.js'
import { streamGeneration } from '../../../generation/stream.js'
import type { GenerationEvent } from '../../../generation/types.js'
import { linkedAbort } from '../../../lib/abort.js'
import type { Services } from '../../../services.js'
import type { AppEnv } from '../../context.js'
import { problemResponses } from '../../problem.js'
import { protectedRoute } from '../../protected-route.js'
import { DryRunResponse, GenerateRequest, GenerationResponse } from './generate.schemas.js'

export function registerGenerateRoutes(app: OpenAPIHono<AppEnv>, services: Services): void {
  app.openapi(
    protectedRoute(services, 'generate', {
      method: 'post',
      path: '/v1/generate',
      tags: ['generation'],
      summary: 'Run a task: retrieve, assemble, route, call the model, cite, log',
      description:
        'With `stream: true` the answer is server-sent events: `meta` (id, route), `delta` ({text}) …, then ' +
        '`done` (citations, usage, latencyMs) or `error` ({code, detail, requestId}).',
      request: { body: { required: true, content: { 'application/json': { schema: GenerateRequest } } } },
      responses: {
        200: {
          description: 'The generation, the dry run, or (stream: true) an event stream',
          content: {
            'application/json': { schema: z.union([GenerationResponse, DryRunResponse]) },
            'text/event-stream': { schema: z.string() },
          },
        },
        ...problemResponses(400, 404, 413, 502, 503, 504),
      },
    }),
    async (c) => {
      const body = c.req.valid('json')
      const gen = { ...services.generation, logger: c.get('logger') }
      // Aborted by the server when the client goes away; streams also abort through onAbort below.
      const signal = c.req.raw.signal
      const prepared = await prepareGeneration(
        gen,
        {
          task: body.task,
          input: body.input,
          ...(body.variables ? { variables: body.variables } : {}),
          ...(body.collection ? { collection: body.collection } : {}),
          ...(body.filters ? { filters: body.filters } : {}),
          ...(body.subject ? { subject: body.subject } : {}),
          requestId: c.get('requestId'),
          apiKey: c.get('apiKey'),
          endpoint: 'generate',
        },
        signal,
      )
      if (body.dryRun) return c.json(dryRunResult(prepared), 200)
      if (!body.stream) return c.json(await runGeneration(gen, prepared, signal), 200)
      // Aborts with the request, or when the stream's client goes away (onAbort below).
      const disconnect = linkedAbort([signal])
      const events = streamGeneration(gen, prepared, disconnect.signal)
      return streamSSE(c, async (stream) => {
        stream.onAbort(() => disconnect.abort())
        for await (const event of events) {
          await stream.writeSSE({ event: event.type, data: JSON.stringify(ssePayload(event)) })
        }
      })
    },
  )
}

function ssePayload(event: GenerationEvent): unknown {
  switch (event.type) {
    case 'meta':
      return { id: event.id, task: event.task, route: event.route }
    case 'delta':
      return { text: event.text }
    case 'done': {
      const { output: _output, json: _json, ...rest } = event.result
      return rest
    }
    case 'error':
      return { code: event.code, detail: event.detail, requestId: event.requestId, id: event.id }
  }
}
