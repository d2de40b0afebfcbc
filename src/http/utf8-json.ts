import type { MiddlewareHandler } from 'hono'
import { AppError } from './errors.js'

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i

/**
 * JSON must be UTF-8 (RFC 8259). Request.json() decodes leniently, so bytes in another encoding would
 * otherwise be stored as U+FFFD without a word; refuse them instead. Runs after the body limit, which
 * bounds what is read. The text decoded here is parsed here too and left in Hono's body cache, where the
 * validators find it: otherwise Hono would build a second Response around the cached bytes to parse
 * them. Text that does not parse is left to the validator, which answers it as malformed JSON.
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
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      return next()
    }
    c.req.bodyCache.json = Promise.resolve(parsed)
    return next()
  }
}
