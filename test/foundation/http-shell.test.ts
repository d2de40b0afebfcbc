import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestApp, json, type TestApp } from '../support/test-app.js'

let t: TestApp
beforeAll(async () => {
  t = await createTestApp({ MAX_BODY_BYTES: '2048', MAX_UPLOAD_BYTES: '4096' })
  // A route that fails the way a bug would, to see what leaks.
  t.app.get('/test/explode', () => {
    throw new Error('syntax error at or near "SELECT secret FROM api_keys" password=hunter2')
  })
})
afterAll(async () => t.close())

describe('the HTTP shell', () => {
  it('reports liveness and readiness on the database it runs on', async () => {
    expect(await json(await t.request('/healthz'))).toEqual({ status: 'ok' })
    const ready = await t.request('/readyz')
    expect(ready.status).toBe(200)
    expect(await json(ready)).toMatchObject({ status: 'ready', checks: { database: true, migrations: true } })
  })

  it('is not ready while a migration is pending', async () => {
    await t.db.pool.query('DELETE FROM schema_migrations WHERE version = 1')
    try {
      const res = await t.request('/readyz')
      expect(res.status).toBe(503)
      expect(await json(res)).toMatchObject({ status: 'not_ready', checks: { migrations: false } })
    } finally {
      await t.db.pool.query(
        "INSERT INTO schema_migrations (version, name, checksum) VALUES (1, 'initial', 'restored-by-test')",
      )
    }
  })

  it('echoes a sane incoming request id and replaces an unsafe one', async () => {
    const kept = await t.request('/healthz', { headers: { 'x-request-id': 'abc-123' } })
    expect(kept.headers.get('x-request-id')).toBe('abc-123')
    const replaced = await t.request('/healthz', { headers: { 'x-request-id': 'bad id <script>' } })
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('answers an unknown route with 404 problem+json', async () => {
    const res = await t.request('/v1/nothing-here')
    expect(res.status).toBe(404)
    expect(res.headers.get('content-type')).toContain('application/problem+json')
  })

  it('answers an unexpected error with a generic 500 that leaks no SQL or secrets', async () => {
    const res = await t.request('/test/explode')
    expect(res.status).toBe(500)
    const text = await res.text()
    expect(text).not.toMatch(/SELECT|api_keys|hunter2|at .*\.ts/)
    expect(JSON.parse(text)).toMatchObject({ code: 'internal', status: 500 })
    expect(t.logs.some((line) => line.msg === 'unhandled error')).toBe(true)
  })

  it('rejects a body over the size limit with 413 before reading it', async () => {
    const res = await t.request('/v1/keys', {
      method: 'POST',
      key: t.adminKey,
      json: { name: 'x'.repeat(5000), scopes: ['generate'] },
    })
    expect(res.status).toBe(413)
    expect(await json(res)).toMatchObject({ code: 'payload_too_large' })
  })

  it('rejects malformed JSON with 400 and a wrong content type with 415', async () => {
    const malformed = await t.request('/v1/keys', {
      method: 'POST',
      key: t.adminKey,
      headers: { 'content-type': 'application/json' },
      body: '{"name":',
    })
    expect(malformed.status).toBe(400)
    expect(await json(malformed)).toMatchObject({ code: 'bad_request' })
    const wrongType = await t.request('/v1/keys', {
      method: 'POST',
      key: t.adminKey,
      headers: { 'content-type': 'text/plain' },
      body: '{"name":"x","scopes":["admin"]}',
    })
    expect(wrongType.status).toBe(415)
  })

  it('publishes an OpenAPI document listing every route with its security and error responses', async () => {
    const doc = await json(await t.request('/openapi.json'))
    expect(doc.openapi).toBe('3.1.0')
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' })
    const keys = doc.paths['/v1/keys'].get
    expect(keys.security).toEqual([{ bearerAuth: [] }])
    expect(keys['x-onbrand-scope']).toBe('admin')
    expect(Object.keys(keys.responses)).toEqual(expect.arrayContaining(['200', '401', '403']))
    expect(doc.paths['/readyz'].get.responses['503']).toBeDefined()
  })
})
