/**
 * HTTP plumbing shared by the OpenAI-wire stub's routes: request state, OpenAI-shaped errors, sleeps that
 * end when the client goes away, and ids.
 */
import { createHash, randomBytes } from 'node:crypto'
import type { ServerResponse } from 'node:http'

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The stub's token estimate everywhere (chat usage, trained tokens): a token is about 4 characters. */
export const approxTokens = (chars: number): number => Math.ceil(chars / 4)

export function positiveInt(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined
}

export interface RequestState {
  res: ServerResponse
  /** Aborted when the response's connection closes for any reason. */
  closed: AbortController
  /** Set when the stub itself destroyed the connection (drop, break, close()). */
  destroyedByStub: boolean
}

export class RequestClosedError extends Error {}

/**
 * An error a route handler throws to answer in OpenAI's error shape
 * (`{ error: { message, type, param, code } }`).
 */
export class StubHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message)
  }
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(new RequestClosedError())
  if (ms <= 0) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(new RequestClosedError())
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

export function destroy(state: RequestState): void {
  state.destroyedByStub = true
  state.res.destroy()
  state.res.socket?.destroy()
}

export function requestId(prefix: string): string {
  return `${prefix}${randomBytes(12).toString('hex')}`
}

export function errorTypeForStatus(status: number): { type: string; code: string | null; message: string } {
  switch (status) {
    case 400:
      return { type: 'invalid_request_error', code: null, message: 'Bad request (stub).' }
    case 401:
      return {
        type: 'invalid_request_error',
        code: 'invalid_api_key',
        message: 'Incorrect API key provided (stub).',
      }
    case 403:
      return {
        type: 'invalid_request_error',
        code: 'unsupported_country_region_territory',
        message: 'Forbidden (stub).',
      }
    case 404:
      return { type: 'invalid_request_error', code: 'model_not_found', message: 'Not found (stub).' }
    case 408:
      return { type: 'timeout', code: null, message: 'Request timed out (stub).' }
    case 429:
      return { type: 'requests', code: 'rate_limit_exceeded', message: 'Rate limit reached (stub).' }
    default:
      return status >= 500
        ? {
            type: 'server_error',
            code: null,
            message: 'The server had an error while processing your request (stub).',
          }
        : {
            type: 'invalid_request_error',
            code: null,
            message: `Request failed with status ${status} (stub).`,
          }
  }
}

/** The body OpenAI answers a failed request with. */
export function errorBody(
  status: number,
  message?: string,
  param: string | null = null,
  code?: string | null,
): { error: { message: string; type: string; param: string | null; code: string | null } } {
  const info = errorTypeForStatus(status)
  return {
    error: {
      message: message ?? info.message,
      type: info.type,
      param,
      code: code === undefined ? info.code : code,
    },
  }
}

export function sendBody(
  state: RequestState,
  status: number,
  contentType: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
): void {
  const { res } = state
  if (res.destroyed || res.writableEnded) return
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'x-request-id': requestId('req_'),
    ...headers,
  })
  res.end(body)
}

export function sendJson(
  state: RequestState,
  status: number,
  payload: unknown,
  headers: Record<string, string> = {},
): void {
  const text = typeof payload === 'string' ? payload : JSON.stringify(payload)
  sendBody(state, status, 'application/json', text, headers)
}

export function sendError(
  state: RequestState,
  status: number,
  message: string,
  code: string | null = null,
  type?: string,
  param: string | null = null,
): void {
  sendJson(state, status, {
    error: { message, type: type ?? errorTypeForStatus(status).type, param, code },
  })
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

/** `length` base62 characters derived from `seed`: the same seed always gives the same text. */
export function base62(seed: string, length: number): string {
  let out = ''
  for (let round = 0; out.length < length; round++) {
    for (const byte of createHash('sha256').update(`${round}:${seed}`).digest()) {
      if (out.length === length) break
      out += BASE62[byte % 62]
    }
  }
  return out
}

/**
 * Ids like OpenAI's (`file-…`, `ftjob-…`), numbered per stub so a run is reproducible: the n-th job
 * of a fresh stub always has the same id.
 */
export function createIdFactory(): (prefix: string, length?: number) => string {
  let sequence = 0
  return (prefix, length = 24) => {
    sequence += 1
    return `${prefix}${base62(`${prefix}${sequence}`, length)}`
  }
}

/** `limit` from a list query: a whole number in [1, max], else `fallback` when absent. */
export function limitParam(query: URLSearchParams, fallback: number, max: number): number {
  const raw = query.get('limit')
  if (raw === null) return fallback
  const limit = Number(raw)
  if (!Number.isInteger(limit) || limit < 1 || limit > max) {
    throw new StubHttpError(400, `'limit' must be a whole number from 1 to ${max}, got ${raw}.`, 'limit')
  }
  return limit
}

/**
 * One page of a cursor list as OpenAI pages them: `items` already in answer order, `after` the id of
 * the last item of the previous page.
 */
export function cursorPage<T extends { id: string }>(
  items: T[],
  query: URLSearchParams,
  defaultLimit: number,
  maxLimit: number,
): { object: 'list'; data: T[]; has_more: boolean; first_id: string | null; last_id: string | null } {
  const limit = limitParam(query, defaultLimit, maxLimit)
  const after = query.get('after')
  let start = 0
  if (after !== null && after !== '') {
    const index = items.findIndex((item) => item.id === after)
    if (index < 0) throw new StubHttpError(400, `'after' names no item of this list: ${after}.`, 'after')
    start = index + 1
  }
  const data = items.slice(start, start + limit)
  return {
    object: 'list',
    data,
    has_more: start + limit < items.length,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
  }
}
