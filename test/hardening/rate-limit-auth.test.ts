import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createKey } from '../../src/auth/manage-keys.js'
import { clearOfMinuteBoundary } from '../support/minute-boundary.js'
import { createTestApp, type TestApp } from '../support/test-app.js'

// Authentication and the rate-limit counter share one database statement; these are the cases where
// the statement finds a key but must not count the request against it.
let t: TestApp
beforeAll(async () => {
  t = await createTestApp({ RATE_LIMIT_RPM: '100' })
})
afterAll(async () => t.close())
// The tests count requests within one minute; start each clear of the minute's end.
beforeEach(async () => clearOfMinuteBoundary(t.db.pool))

async function requestsCounted(keyId: string): Promise<number> {
  const { rows } = await t.db.pool.query(
    'SELECT coalesce(sum(requests), 0)::int AS n FROM rate_limit_windows WHERE key_id = $1',
    [keyId],
  )
  return rows[0].n
}

describe('counting requests while authenticating', () => {
  it('does not spend a real key’s limit on requests with a wrong secret for its id', async () => {
    const key = await createKey(t.db.pool, { name: 'victim', scopes: ['admin'], rateLimitRpm: 2 })
    const forged = `onb_${key.id}_${'A'.repeat(43)}`
    for (let i = 0; i < 4; i++) expect((await t.request('/v1/keys', { key: forged })).status).toBe(401)
    expect(await requestsCounted(key.id)).toBe(0)
    expect((await t.request('/v1/keys', { key: key.key })).status).toBe(200)
    expect((await t.request('/v1/keys', { key: key.key })).status).toBe(200)
    expect((await t.request('/v1/keys', { key: key.key })).status).toBe(429)
  })

  it('does not count requests refused for a missing scope', async () => {
    const key = await createKey(t.db.pool, { name: 'generate only', scopes: ['generate'] })
    for (let i = 0; i < 3; i++) expect((await t.request('/v1/keys', { key: key.key })).status).toBe(403)
    expect(await requestsCounted(key.id)).toBe(0)
  })

  it('does not count requests from a revoked key', async () => {
    // Under 40 a minute, the limiter claims one request at a time, so the window shows each one.
    const key = await createKey(t.db.pool, { name: 'revoked', scopes: ['admin'], rateLimitRpm: 20 })
    expect((await t.request('/v1/keys', { key: key.key })).status).toBe(200)
    expect(await requestsCounted(key.id)).toBe(1)
    expect((await t.request(`/v1/keys/${key.id}`, { method: 'DELETE', key: t.adminKey })).status).toBe(204)
    expect((await t.request('/v1/keys', { key: key.key })).status).toBe(401)
    expect(await requestsCounted(key.id)).toBe(1)
  })

  it('counts each admitted request once and reports it in the RateLimit headers', async () => {
    const key = await createKey(t.db.pool, { name: 'counted', scopes: ['admin'], rateLimitRpm: 10 })
    const remaining: (string | null)[] = []
    for (let i = 0; i < 3; i++) {
      remaining.push((await t.request('/v1/keys', { key: key.key })).headers.get('ratelimit-remaining'))
    }
    expect(remaining).toEqual(['9', '8', '7'])
    expect(await requestsCounted(key.id)).toBe(3)
  })
})

describe('the body limit', () => {
  it('refuses a declared Content-Length over the limit without reading the body', async () => {
    const res = await t.request('/v1/keys', {
      method: 'POST',
      key: t.adminKey,
      headers: { 'content-type': 'application/json', 'content-length': String(t.config.MAX_BODY_BYTES + 1) },
      body: '{}',
    })
    expect(res.status).toBe(413)
  })

  it('counts the bytes of a chunked body, whatever Content-Length claims', async () => {
    const res = await t.request('/v1/keys', {
      method: 'POST',
      key: t.adminKey,
      headers: { 'content-type': 'application/json', 'content-length': '2', 'transfer-encoding': 'chunked' },
      body: JSON.stringify({ name: 'x'.repeat(t.config.MAX_BODY_BYTES), scopes: ['generate'] }),
    })
    expect(res.status).toBe(413)
  })

  it('lets a body within the limit through to the handler', async () => {
    const body = JSON.stringify({ name: 'small', scopes: ['generate'] })
    const res = await t.request('/v1/keys', {
      method: 'POST',
      key: t.adminKey,
      headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
      body,
    })
    expect(res.status).toBe(201)
  })
})
