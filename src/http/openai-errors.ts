import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from './context.js'

interface ProblemFields {
  detail?: string
  code?: string
  requestId?: string
  errors?: { path: string; message: string }[]
}

/** OpenAI's error object: `message` is what SDKs show, `param` names the offending request field. */
export interface OpenAIError {
  message: string
  type: string
  param: string | null
  code: string | null
}

const NAMED_FIELDS = 3

/**
 * The OpenAI error for a problem+json body. A validation failure names its fields, first one in `param`
 * and up to three (with what is wrong) in `message`, so an SDK's error alone says what to fix.
 */
export function openAIError(problem: ProblemFields): OpenAIError {
  const fields = problem.errors ?? []
  const named = fields
    .slice(0, NAMED_FIELDS)
    .map((issue) => `${issue.path}: ${issue.message}`)
    .join('; ')
  const more = fields.length > NAMED_FIELDS ? ` (and ${fields.length - NAMED_FIELDS} more)` : ''
  const detail = problem.detail ?? 'Request failed.'
  const message = named === '' ? detail : `${detail.replace(/\.$/, '')}: ${named}${more}.`
  return {
    message: `${message} (request id ${problem.requestId ?? 'unknown'})`,
    type: problem.code ?? 'error',
    param: fields[0]?.path ?? null,
    code: problem.code ?? null,
  }
}

/** A problem+json response with OpenAI's `error` field added (the response itself if it is no problem). */
export async function withOpenAIError(res: Response): Promise<Response> {
  const type = res.headers.get('content-type') ?? ''
  if (!type.includes('application/problem+json')) return res
  const problem = (await res.clone().json()) as ProblemFields & { error?: unknown }
  if (problem.error !== undefined) return res
  const headers = new Headers(res.headers)
  headers.delete('content-length')
  return new Response(JSON.stringify({ ...problem, error: openAIError(problem) }), {
    status: res.status,
    headers,
  })
}

/**
 * For the OpenAI-compatible routes: OpenAI SDKs read `error.message` (and `error.param`) from a failed
 * response. Keep the problem+json body (one error format for the whole API) and add that field, so an
 * SDK pointed at Onbrand raises a readable error.
 */
export function addOpenAIErrorField(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next()
    const res = await withOpenAIError(c.res)
    if (res !== c.res) c.res = res
  }
}
