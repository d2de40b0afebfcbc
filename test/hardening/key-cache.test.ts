import { afterAll, describe, expect, it } from 'vitest'
import { revokeKey } from '../../src/auth/manage-keys.js'
import { createTestApp, type TestApp } from '../support/test-app.js'

// Key rows are cached for AUTH_CACHE_TTL_MS. A revocation through the API of the same process applies at
// once (test/foundation/auth.test.ts); one made elsewhere, here straight in the database as the CLI or
// another instance would, applies within the TTL. These tests pin that window down.
const apps: TestApp[] = []
afterAll(async () => {
  for (const app of apps) await app.close()
})

async function app(env: Record<string, string>): Promise<TestApp> {
  const made = await createTestApp(env)
  apps.push(made)
  return made
}

describe('the API key cache', () => {
  it('lets a key revoked by another process through until the TTL ends, then refuses it', async () => {
    const t = await app({ AUTH_CACHE_TTL_MS: '1500' })
    const key = await t.makeKey(['admin'])
    expect((await t.request('/v1/keys', { key: key.key })).status).toBe(200)
    await revokeKey(t.db.pool, key.id)
    expect((await t.request('/v1/keys', { key: key.key })).status).toBe(200)
    await new Promise((resolve) => setTimeout(resolve, 1600))
    expect((await t.request('/v1/keys', { key: key.key })).status).toBe(401)
  })

  it('with a TTL of 0 reads the key on every request', async () => {
    const t = await app({ AUTH_CACHE_TTL_MS: '0' })
    const key = await t.makeKey(['admin'])
    expect((await t.request('/v1/keys', { key: key.key })).status).toBe(200)
    await revokeKey(t.db.pool, key.id)
    expect((await t.request('/v1/keys', { key: key.key })).status).toBe(401)
  })

  it('still checks the presented secret against the cached row', async () => {
    const t = await app({ AUTH_CACHE_TTL_MS: '60000' })
    const key = await t.makeKey(['admin'])
    expect((await t.request('/v1/keys', { key: key.key })).status).toBe(200)
    const forged = `${key.key.slice(0, -4)}AAAA`
    expect((await t.request('/v1/keys', { key: forged })).status).toBe(401)
  })
})
