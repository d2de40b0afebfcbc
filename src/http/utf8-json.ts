import type { MiddlewareHandler } from 'hono'
import { AppError } from '../errors.js'

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i

/**
 * JSON must be UTF-8 (RFC 8259). Request.json() decodes leniently, so bytes in another encoding would
 * otherwise be stored as U+FFFD without a word; refuse them instead. Runs after the body limit, which
 * bounds what is read. The text decoded here is left in Hono's body cache, where `c.req.json()` (the
 * validators) parses it from: otherwise Hono would build a Response around the cached bytes to decode
 * them a second time.
 */
export function requireUtf8Json(): MiddlewareHandler {
  const decoder = new TextDecoder('utf-8', { fatal: true })
  return async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next()
    if (!JSON_TYPE.test(c.req.header('content-type') ?? '')) return next()
    let text: string
    try {
      text = decoder.decode(await c.req.arrayBuffer())
    } catch {
      throw new AppError('bad_request', 'The request body is not valid UTF-8; send JSON as UTF-8.')
    }
    // Hono keeps promises in bodyCache (its readers call .then on them) but types the entries as values.
    c.req.bodyCache.text = Promise.resolve(text) as unknown as string
    return next()
  }
}
