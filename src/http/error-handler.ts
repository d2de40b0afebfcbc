import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { isDatabaseUnavailable, isUnstorableText } from '../db/pg-errors.js'
import { AppError, type ErrorCode, type FieldIssue } from '../errors.js'
import type { AppEnv } from './context.js'
import { problemBody } from './problem.js'

/** The one place errors become responses: problem+json with a closed code, nothing internal echoed. */
export function handleError(error: Error, c: Context<AppEnv>): Response {
  const requestId = c.get('requestId') ?? 'unknown'
  const known = classify(error)
  if (known.code === 'internal' || known.code === 'service_unavailable') {
    c.get('logger')?.error(
      { err: error },
      known.code === 'internal' ? 'unhandled error' : 'database unavailable',
    )
  }
  const body = problemBody(known.code, known.detail, requestId, known.errors)
  const headers: Record<string, string> = { 'Content-Type': 'application/problem+json', ...known.headers }
  return c.body(JSON.stringify(body), body.status as ContentfulStatusCode, headers)
}

function classify(error: Error): {
  code: ErrorCode
  detail: string
  errors?: FieldIssue[]
  headers?: Record<string, string>
} {
  if (error instanceof AppError) {
    return {
      code: error.code,
      detail: error.detail,
      errors: error.extra.errors,
      headers: error.extra.headers,
    }
  }
  if (error instanceof HTTPException) {
    // Hono raises these for malformed bodies and the like; their messages are fixed strings of Hono's.
    if (error.status === 413) return { code: 'payload_too_large', detail: 'The request body is too large.' }
    // Raised by @hono/zod-openapi for a Content-Type the route does not declare (every such route takes JSON).
    if (error.status === 415)
      return {
        code: 'unsupported_media_type',
        detail: 'This route does not take that Content-Type: send JSON, with Content-Type: application/json.',
      }
    if (error.status === 400) return { code: 'bad_request', detail: error.message || 'Malformed request.' }
  }
  // Request text reaching the database unchecked (a query parameter, say): the client's to fix, not a 500.
  if (isUnstorableText(error)) {
    return {
      code: 'bad_request',
      detail: 'The request holds a NUL character (\\u0000), which cannot be stored.',
    }
  }
  if (isDatabaseUnavailable(error)) {
    return {
      code: 'service_unavailable',
      detail: 'The database is unavailable; retry shortly.',
      headers: { 'Retry-After': '1' },
    }
  }
  return { code: 'internal', detail: 'An unexpected error occurred. Quote the request id when reporting it.' }
}
