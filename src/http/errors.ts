import { z } from '@hono/zod-openapi'

/** Every error an API client can see. Closed on purpose: a new failure mode gets a name here first. */
export const ErrorCode = z.enum([
  'bad_request',
  'validation_failed',
  'unauthorized',
  'forbidden',
  'not_found',
  'conflict',
  'payload_too_large',
  'unsupported_media_type',
  'rate_limited',
  'provider_not_configured',
  'upstream_error',
  'upstream_timeout',
  'service_unavailable',
  'internal',
])
export type ErrorCode = z.infer<typeof ErrorCode>

export const codeToStatus = {
  bad_request: 400,
  validation_failed: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  upstream_error: 502,
  provider_not_configured: 503,
  service_unavailable: 503,
  upstream_timeout: 504,
} as const satisfies Record<ErrorCode, number>

const titles: Record<ErrorCode, string> = {
  bad_request: 'Bad request',
  validation_failed: 'Request validation failed',
  unauthorized: 'Unauthorized',
  forbidden: 'Forbidden',
  not_found: 'Not found',
  conflict: 'Conflict',
  payload_too_large: 'Payload too large',
  unsupported_media_type: 'Unsupported media type',
  rate_limited: 'Too many requests',
  provider_not_configured: 'Model provider not configured',
  upstream_error: 'Model provider error',
  upstream_timeout: 'Model provider timed out',
  service_unavailable: 'Service unavailable',
  internal: 'Internal server error',
}

export interface FieldIssue {
  path: string
  message: string
}

/** A domain error with a code from the closed set; `detail` must be safe to show a client. */
export class AppError extends Error {
  readonly status: number
  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    readonly extra: { errors?: FieldIssue[]; headers?: Record<string, string> } = {},
  ) {
    super(detail)
    this.name = 'AppError'
    this.status = codeToStatus[code]
  }
}

export const Problem = z
  .object({
    type: z.string().openapi({ example: 'urn:onbrand:error:not_found' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: ErrorCode,
    requestId: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi('Problem')
export type Problem = z.infer<typeof Problem>

export function problemBody(
  code: ErrorCode,
  detail: string,
  requestId: string,
  errors?: FieldIssue[],
): Problem {
  return {
    type: `urn:onbrand:error:${code}`,
    title: titles[code],
    status: codeToStatus[code],
    detail,
    code,
    requestId,
    ...(errors && errors.length > 0 ? { errors } : {}),
  }
}

/** OpenAPI response entries for the error statuses a route can answer. */
export function problemResponses<const S extends number>(...statuses: S[]) {
  const entries = statuses.map((status) => [
    status,
    {
      description: describeStatus(status),
      content: { 'application/problem+json': { schema: Problem } },
    },
  ])
  return Object.fromEntries(entries) as Record<
    S,
    { description: string; content: { 'application/problem+json': { schema: typeof Problem } } }
  >
}

function describeStatus(status: number): string {
  const codes = ErrorCode.options.filter((code) => codeToStatus[code] === status)
  return codes.map((code) => titles[code]).join(' / ') || 'Error'
}
