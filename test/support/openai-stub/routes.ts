/**
 * The stub's URL table: which method and path reach which store, and how the body is read.
 */
import { type ChatContext, handleChat } from './chat.js'
import { handleEmbeddings } from './embeddings.js'
import type { FileStore } from './files.js'
import type { FineTuningStore } from './fine-tuning.js'
import { type RequestState, sendBody } from './http.js'
import type { ModelRegistry } from './models.js'

/** The stub's routes, for `failNext`/`hangNext`/`dropNext` and `callCount`. */
export type StubPath = 'chat' | 'embeddings' | 'files' | 'fine_tuning' | 'models'

export interface RouteRequest {
  state: RequestState
  body: Record<string, unknown>
  form: FormData | undefined
  query: URLSearchParams
  /** Decoded path parameters, in order. */
  params: string[]
}

export interface Route {
  method: 'GET' | 'POST' | 'DELETE'
  pattern: RegExp
  path: StubPath
  /** `json`: the body must be a JSON object; `none`: the body is ignored; `multipart`: form data. */
  body: 'json' | 'none' | 'multipart'
  /** A value is answered as JSON with status 200; undefined means the route answered itself. */
  run(req: RouteRequest): unknown
}

export interface RouteDeps {
  chat: ChatContext
  embeddingDefaults(model: unknown): { dimensions: number; latencyMs: number }
  files: FileStore
  fineTuning: FineTuningStore
  models: ModelRegistry
}

/** `template` is a path whose `:name` segments are parameters (the SDK percent-encodes them, `/` too). */
function route(
  method: Route['method'],
  template: string,
  path: StubPath,
  body: Route['body'],
  run: (req: RouteRequest, id: string) => unknown,
): Route {
  const pattern = new RegExp(`^${template.replace(/:\w+/g, '([^/]+)')}$`)
  return { method, pattern, path, body, run: (req) => run(req, req.params[0] ?? '') }
}

export function buildRoutes({ chat, embeddingDefaults, files, fineTuning, models }: RouteDeps): Route[] {
  // Models appear and disappear as jobs progress on the stub's clock, so the clock is read first.
  const withModels = <T>(answer: () => T): T => {
    fineTuning.tick()
    return answer()
  }
  return [
    route('POST', '/v1/chat/completions', 'chat', 'json', async ({ state, body }) => {
      await handleChat(chat, state, body)
    }),
    route('POST', '/v1/embeddings', 'embeddings', 'json', async ({ state, body }) => {
      await handleEmbeddings(state, body, embeddingDefaults(body.model))
    }),
    route('POST', '/v1/files', 'files', 'multipart', ({ form }) => form && files.upload(form)),
    route('GET', '/v1/files', 'files', 'none', ({ query }) => files.list(query)),
    route('GET', '/v1/files/:id', 'files', 'none', (_, id) => files.get(id).file),
    route('GET', '/v1/files/:id/content', 'files', 'none', ({ state }, id) => {
      sendBody(state, 200, 'application/octet-stream', files.get(id).content)
    }),
    route('DELETE', '/v1/files/:id', 'files', 'none', (_, id) => files.delete(id)),
    route('POST', '/v1/fine_tuning/jobs', 'fine_tuning', 'json', ({ body }) => fineTuning.create(body)),
    route('GET', '/v1/fine_tuning/jobs', 'fine_tuning', 'none', ({ query }) => fineTuning.list(query)),
    route('GET', '/v1/fine_tuning/jobs/:id', 'fine_tuning', 'none', (_, id) => fineTuning.retrieve(id)),
    route('POST', '/v1/fine_tuning/jobs/:id/cancel', 'fine_tuning', 'none', (_, id) => fineTuning.cancel(id)),
    route('GET', '/v1/fine_tuning/jobs/:id/events', 'fine_tuning', 'none', ({ query }, id) =>
      fineTuning.events(id, query),
    ),
    route('GET', '/v1/fine_tuning/jobs/:id/checkpoints', 'fine_tuning', 'none', ({ query }, id) =>
      fineTuning.checkpoints(id, query),
    ),
    route('GET', '/v1/models', 'models', 'none', () => withModels(() => models.list())),
    route('GET', '/v1/models/:id', 'models', 'none', (_, id) => withModels(() => models.retrieve(id))),
    route('DELETE', '/v1/models/:id', 'models', 'none', (_, id) => withModels(() => models.delete(id))),
  ]
}

function decodeParam(raw: string): string {
  try {
    return decodeURIComponent(raw)
  } catch {
    return raw // a malformed escape names no stored object: the store answers 404
  }
}

export function matchRoute(
  routes: Route[],
  method: string,
  path: string,
): { route: Route; params: string[] } | undefined {
  for (const candidate of routes) {
    if (candidate.method !== method) continue
    const match = candidate.pattern.exec(path)
    if (match !== null) return { route: candidate, params: match.slice(1).map(decodeParam) }
  }
  return undefined
}
