/**
 * The stub's URL table: which method and path reach which store, and how the body is read.
 */
import { type ChatContext, handleChat } from './chat.js'
import { handleEmbeddings } from './embeddings.js'
import type { RequestState } from './http.js'

/** The stub's routes, for `failNext`/`hangNext`/`dropNext` and `callCount`. */
export type StubPath = 'chat' | 'embeddings'

export interface RouteRequest {
  state: RequestState
  body: Record<string, unknown>
  query: URLSearchParams
  /** Decoded path parameters, in order. */
  params: string[]
}

export interface Route {
  method: 'GET' | 'POST' | 'DELETE'
  pattern: RegExp
  path: StubPath
  /** `json`: the body must be a JSON object; `none`: the body is ignored. */
  body: 'json' | 'none'
  /** A value is answered as JSON with status 200; undefined means the route answered itself. */
  run(req: RouteRequest): unknown
}

export interface RouteDeps {
  chat: ChatContext
  embeddingDefaults(model: unknown): { dimensions: number; latencyMs: number }
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

export function buildRoutes({ chat, embeddingDefaults }: RouteDeps): Route[] {
  return [
    route('POST', '/v1/chat/completions', 'chat', 'json', async ({ state, body }) => {
      await handleChat(chat, state, body)
    }),
    route('POST', '/v1/embeddings', 'embeddings', 'json', async ({ state, body }) => {
      await handleEmbeddings(state, body, embeddingDefaults(body.model))
    }),
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
