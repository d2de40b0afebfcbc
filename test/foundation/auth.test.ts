import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hashApiKey } from '../../src/auth/api-keys.js'
import { createTestApp, json, type TestApp } from '../support/test-app.js'

let t: TestApp
beforeAll(async () => {
  t = await createTestApp()
})
afterAll(async () => t.close())

async function expectProblem(res: Response, status: number, code: string) {
  expect(res.status).toBe(status)
  expect(res.headers.get('content-type')).toContain('application/problem+json')
  const body = await json(res)
  expect(body).toMatchObject({ status, code, type: `urn:onbrand:error:${code}` })
  expect(body.requestId).toBe(res.headers.get('x-request-id'))
  return body
}

describe('API key authentication', () => {
  it('answers 401 problem+json when no key is sent', async () => {
    await expectProblem(await t.request('/v1/keys'), 401, 'unauthorized')
  })

  it('answers 401 for a malformed header, an unknown key and a wrong secret for a real id', async () => {
    await expectProblem(
      await t.request('/v1/keys', { headers: { authorization: 'Basic abc' } }),
      401,
      'unauthorized',
    )
    await expectProblem(await t.request('/v1/keys', { key: 'not-a-key' }), 401, 'unauthorized')
    const real = await t.makeKey(['admin'])
    const forged = `${real.key.slice(0, -4)}AAAA`
    await expectProblem(await t.request('/v1/keys', { key: forged }), 401, 'unauthorized')
  })

  it('answers 403 when a generate-scope key calls an admin route', async () => {
    const generate = await t.makeKey(['generate'])
    const body = await expectProblem(await t.request('/v1/keys', { key: generate.key }), 403, 'forbidden')
    expect(body.detail).toContain('admin')
  })

  it('lets an admin key list keys without ever returning a secret or hash', async () => {
    const res = await t.request('/v1/keys', { key: t.adminKey })
    expect(res.status).toBe(200)
    const text = await res.text()
    expect(text).not.toContain(t.adminKey)
    expect(text).not.toMatch(/hash/i)
  })

  it('creates a key whose secret is shown once and stored only as a SHA-256 hash', async () => {
    const res = await t.request('/v1/keys', {
      method: 'POST',
      key: t.adminKey,
      json: { name: 'campaign app', scopes: ['generate'], collections: ['brand-au'] },
    })
    expect(res.status).toBe(201)
    const created = await json(res)
    expect(created.key).toMatch(/^onb_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/)
    expect(created.collections).toEqual(['brand-au'])
    const stored = await t.db.pool.query('SELECT key_hash FROM api_keys WHERE id = $1', [created.id])
    expect(Buffer.compare(stored.rows[0].key_hash, hashApiKey(created.key))).toBe(0)
    const anywhere = await t.db.pool.query(
      "SELECT count(*)::int AS n FROM api_keys WHERE position($1 in concat_ws(' ', id, name, encode(key_hash, 'escape'))) > 0",
      [created.key],
    )
    expect(anywhere.rows[0].n).toBe(0)
  })

  it('refuses a revoked key with 401 and records last use of live ones', async () => {
    const victim = await t.makeKey(['admin'])
    expect((await t.request('/v1/keys', { key: victim.key })).status).toBe(200)
    const used = await t.db.pool.query('SELECT last_used_at FROM api_keys WHERE id = $1', [victim.id])
    expect(used.rows[0].last_used_at).toBeInstanceOf(Date)

    const revoke = await t.request(`/v1/keys/${victim.id}`, { method: 'DELETE', key: t.adminKey })
    expect(revoke.status).toBe(204)
    await expectProblem(await t.request('/v1/keys', { key: victim.key }), 401, 'unauthorized')
  })

  it('answers 404 when revoking a key id that does not exist', async () => {
    await expectProblem(
      await t.request('/v1/keys/zzzzzzzzzzzz', { method: 'DELETE', key: t.adminKey }),
      404,
      'not_found',
    )
  })

  it('validates new keys and lists every bad field', async () => {
    const res = await t.request('/v1/keys', {
      method: 'POST',
      key: t.adminKey,
      json: { name: '', scopes: ['root'], extra: true },
    })
    const body = await expectProblem(res, 400, 'validation_failed')
    const paths = body.errors.map((e: { path: string }) => e.path)
    expect(paths).toEqual(expect.arrayContaining(['name', 'scopes.0']))
  })

  it('never writes a key into the logs', async () => {
    await t.request('/v1/keys', { key: t.adminKey })
    await t.request('/v1/keys', { key: 'onb_aaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb' })
    const logged = JSON.stringify(t.logs)
    expect(logged).not.toContain(t.adminKey)
    expect(logged).not.toContain('bbbbbbbbbbbbbbbb')
    expect(t.logs.some((line) => typeof line.keyId === 'string')).toBe(true)
  })
})
