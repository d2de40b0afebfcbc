import type { MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { AppError } from '../../errors.js'

/**
 * Reject bodies over `maxBytes` (Content-Length or streamed) with 413 before anything reads them.
 * A declared Content-Length is checked from the header alone: Node's parser never delivers more bytes
 * than it declares, and not touching `c.req.raw.body` lets @hono/node-server read the body later
 * without first building a full Request (about 0.25 ms a request). Only chunked bodies, whose size is
 * unknown up front, go through hono's `bodyLimit`, which counts them as they stream.
 */
export function limitBody(maxBytes: number): MiddlewareHandler {
  const tooLarge = (): never => {
    throw new AppError('payload_too_large', `The request body is larger than ${maxBytes} bytes.`)
  }
  const streamed = bodyLimit({ maxSize: maxBytes, onError: tooLarge })
  return async (c, next) => {
    // A GET or HEAD request carries no body a handler could read.
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next()
    const length = c.req.header('content-length')
    if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
      if (Number.parseInt(length, 10) > maxBytes) tooLarge()
      return next()
    }
    return streamed(c, next)
  }
}
