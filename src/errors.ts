/**
 * Every error a caller (an API client, a CLI user) can see. Closed on purpose: a new failure mode gets a
 * name here first, and src/http/problem.ts gives it a status and a title.
 */
export const ERROR_CODES = [
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
] as const
export type ErrorCode = (typeof ERROR_CODES)[number]

export interface FieldIssue {
  path: string
  message: string
}

/**
 * A domain error with a code from the closed set; `detail` must be safe to show a client. `headers` are
 * for the HTTP answer only (Retry-After and the like); other callers ignore them.
 */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    readonly extra: { errors?: FieldIssue[]; headers?: Record<string, string> } = {},
  ) {
    super(detail)
    this.name = 'AppError'
  }
}
