import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../../context.js'

/**
 * OpenAI SDKs read `error.message` from a failed response. Keep the problem+json body (one error
 * format for the whole API) and add that field, so an SDK pointed at Onbrand raises a readable error.
 */
export function addOpenAIErrorField(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next()
    const type = c.res.headers.get('content-type') ?? ''
    if (!type.includes('application/problem+json')) return
    const problem = (await c.res.clone().json()) as { detail?: string; code?: string; requestId?: string }
    const body = {
      ...problem,
      error: {
        message: `${problem.detail ?? 'Request failed.'} (request id ${problem.requestId ?? 'unknown'})`,
        type: problem.code ?? 'error',
        param: null,
        code: problem.code ?? null,
      },
    }
    const headers = new Headers(c.res.headers)
    headers.delete('content-length')
    c.res = new Response(JSON.stringify(body), { status: c.res.status, headers })
  }
}
