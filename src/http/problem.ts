import { z } from '@hono/zod-openapi'
import { ERROR_CODES, type ErrorCode, type FieldIssue } from '../errors.js'

/** How each domain error code is answered over HTTP. */
const codeToStatus = {
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

const ErrorCodeSchema = z.enum(ERROR_CODES)

const Problem = z
  .object({
    type: z.string().openapi({ example: 'urn:onbrand:error:not_found' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: ErrorCodeSchema,
    requestId: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi('Problem')
type Problem = z.infer<typeof Problem>

/** The RFC 9457 body for a domain error. */
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
  const codes = ERROR_CODES.filter((code) => codeToStatus[code] === status)
  return codes.map((code) => titles[code]).join(' / ') || 'Error'
}
