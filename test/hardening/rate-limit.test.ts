import { z } from '@hono/zod-openapi'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../src/app.js'
import { createKey } from '../../src/auth/manage-keys.js'
import { decideRateLimit } from '../../src/auth/rate-limit-policy.js'
import { loadMigrations } from '../../src/db/migrate.js'
import { type Database, openDatabase } from '../../src/db/pool.js'
import { chargeTokens } from '../../src/db/rate-limits.js'
import { protectedRoute } from '../../src/http/protected-route.js'
import { createLogger } from '../../src/logger.js'
import { buildServices } from '../../src/services.js'
import { clearOfMinuteBoundary, secondsLeftInDatabaseMinute } from '../support/minute-boundary.js'
import { createTestApp, json, type TestApp } from '../support/test-app.js'
import { usingRealPostgres } from '../support/test-db.js'
import { operationsOf } from './openapi-requests.js'

let t: TestApp
beforeAll(async () => {
  t = await createTestApp({ RATE_LIMIT_RPM: '5', RATE_LIMIT_TPM: '1000' })
  addGenerateRoute(t.app, t.services)
})
afterAll(async () => t.close())

/** A `generate`-scope route of the test's own, so token limits are tested without the generation code. */
function addGenerateRoute(app: TestApp['app'], services: TestApp['services']): void {
  app.openapi(
    protectedRoute(services, 'generate', {
      method: 'get',
      path: '/test/spend',
      responses: {
        200: {
          description: 'ok',
          content: { 'application/json': { schema: z.object({ ok: z.boolean() }) } },
        },
      },
    }),
    (c) => c.json({ ok: true }, 200),
  )
}

async function keyWith(limits: { rateLimitRpm?: number | null; rateLimitTpm?: number | null }) {
  // Each test counts within one minute; start it clear of the minute's end.
  await clearOfMinuteBoundary(t.db.pool)
  return createKey(t.db.pool, { name: 'limited', scopes: ['generate', 'admin'], ...limits })
}

async function windowRows(keyId: string): Promise<number> {
  const { rows } = await t.db.pool.query(
    'SELECT count(*)::int AS n FROM rate_limit_windows WHERE key_id = $1',
    [keyId],
  )
  return rows[0].n
}

/** Whole seconds left in the current minute on the database clock, as Retry-After counts them. */
async function secondsLeftInMinute(): Promise<number> {
  return Math.max(1, Math.ceil(await secondsLeftInDatabaseMinute(t.db.pool)))
}

/** Tokens charged straight to the database, as another instance's sync would. */
const recordTokens = async (keyId: string, tokens: number) => {
  await chargeTokens(t.db.pool, [{ keyId, tokens }])
}

describe('requests per minute', () => {
  it('refuses the request over the limit with 429 rate_limited, Retry-After and RateLimit headers', async () => {
    const key = await keyWith({ rateLimitRpm: 3 })
    const remaining: (string | null)[] = []
    for (let i = 0; i < 3; i++) {
      const res = await t.request('/v1/keys', { key: key.key })
      expect(res.status).toBe(200)
      expect(res.headers.get('ratelimit-limit')).toBe('3')
      remaining.push(res.headers.get('ratelimit-remaining'))
    }
    expect(remaining).toEqual(['2', '1', '0'])

    const before = await secondsLeftInMinute()
    const refused = await t.request('/v1/keys', { key: key.key })
    const after = await secondsLeftInMinute()
    expect(refused.status).toBe(429)
    expect(refused.headers.get('content-type')).toContain('application/problem+json')
    const body = await json(refused)
    expect(body).toMatchObject({ status: 429, code: 'rate_limited' })
    expect(body.detail).toContain('3 requests per minute')

    const retryAfter = Number(refused.headers.get('retry-after'))
    expect(Number.isInteger(retryAfter)).toBe(true)
    // The window closes at the next whole minute of the database clock: the value lies between the
    // readings taken before and after the request (or on either side of a minute that turned between).
    const within = (low: number, high: number) => retryAfter >= low - 1 && retryAfter <= high + 1
    expect(
      after <= before ? within(after, before) : within(1, before) || within(after, 60),
      `Retry-After ${retryAfter}, seconds left before ${before}, after ${after}`,
    ).toBe(true)
    expect(refused.headers.get('ratelimit-reset')).toBe(String(retryAfter))
    expect(refused.headers.get('ratelimit-remaining')).toBe('0')
  })

  it('starts a new minute from zero and deletes the key’s old windows as it goes', async () => {
    const key = await keyWith({ rateLimitRpm: 1 })
    expect((await t.request('/v1/keys', { key: key.key })).status).toBe(200)
    expect((await t.request('/v1/keys', { key: key.key })).status).toBe(429)
    // Move the key's window a minute into the past, as if that minute had ended. The instance remembers
    // a used-up minute for a second (refreshMs) before asking the database again.
    await t.db.pool.query(
      `UPDATE rate_limit_windows SET window_start = window_start - interval '1 minute' WHERE key_id = $1`,
      [key.id],
    )
    await new Promise((resolve) => setTimeout(resolve, 1100))
    expect((await t.request('/v1/keys', { key: key.key })).status).toBe(200)
    expect(await windowRows(key.id)).toBe(1)
  })

  it('uses the server default for keys without their own limit, and 0 means unlimited', async () => {
    const byDefault = await keyWith({})
    const statuses: number[] = []
    for (let i = 0; i < 6; i++) statuses.push((await t.request('/v1/keys', { key: byDefault.key })).status)
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429])

    const unlimited = await keyWith({ rateLimitRpm: 0 })
    for (let i = 0; i < 8; i++) {
      const res = await t.request('/v1/keys', { key: unlimited.key })
      expect(res.status).toBe(200)
      expect(res.headers.get('ratelimit-limit')).toBeNull()
    }

    const generous = await keyWith({ rateLimitRpm: 8 })
    for (let i = 0; i < 8; i++) expect((await t.request('/v1/keys', { key: generous.key })).status).toBe(200)
    expect((await t.request('/v1/keys', { key: generous.key })).status).toBe(429)
  })

  it('counts nothing for requests that fail authentication', async () => {
    const { rows } = await t.db.pool.query('SELECT count(*)::int AS n FROM rate_limit_windows')
    for (let i = 0; i < 5; i++) {
      expect((await t.request('/v1/keys', { key: `onb_aaaaaaaaaaa${i}_${'x'.repeat(43)}` })).status).toBe(401)
    }
    const after = await t.db.pool.query('SELECT count(*)::int AS n FROM rate_limit_windows')
    expect(after.rows[0].n).toBe(rows[0].n)
  })

  it('declares 429 among the responses of protected routes', () => {
    const keys = operationsOf(t.app).find((o) => o.method === 'get' && o.path === '/v1/keys')
    expect(keys?.responseCodes).toContain('429')
  })
})

describe('several API instances on one database', () => {
  let second: Database
  let other: TestApp['app']
  beforeAll(async () => {
    // On PostgreSQL the second instance gets its own pool, as a second process would; the embedded
    // database has a single connection, so there both apps share it.
    const url = (t.db as Database & { url?: string }).url
    second = usingRealPostgres() && url ? await openDatabase({ url, dataDir: '', poolSize: 5 }) : t.db
    other = createApp(
      buildServices({
        config: t.config,
        db: second,
        logger: createLogger('silent'),
        migrations: loadMigrations(),
      }),
    )
  })
  afterAll(async () => {
    if (second !== t.db) await second.close()
  })

  const call = (app: TestApp['app'], key: string) =>
    app.request('/v1/keys', { headers: { authorization: `Bearer ${key}` } })

  it('share one key’s limit: requests through either instance count against the same window', async () => {
    const key = await keyWith({ rateLimitRpm: 4 })
    const statuses: number[] = []
    for (const app of [t.app, other, t.app, other, t.app, other])
      statuses.push((await call(app, key.key)).status)
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429])
  })

  it('let exactly the limit through when requests arrive on both instances at once', async () => {
    const key = await keyWith({ rateLimitRpm: 10 })
    // A window left from an earlier minute: every request below also tries to delete it.
    await t.db.pool.query(
      `INSERT INTO rate_limit_windows (key_id, window_start, requests)
       VALUES ($1, date_trunc('minute', now()) - interval '2 minutes', 99)`,
      [key.id],
    )
    const results = await Promise.all(
      Array.from({ length: 16 }, (_, i) => call(i % 2 === 0 ? t.app : other, key.key)),
    )
    const statuses = results.map((res) => res.status)
    expect(statuses.filter((s) => s === 200)).toHaveLength(10)
    expect(statuses.filter((s) => s === 429)).toHaveLength(6)
    expect(await windowRows(key.id)).toBe(1)
  })
})

describe('model tokens per minute', () => {
  it('refuses generate routes once the minute’s tokens reach the limit, but not admin routes', async () => {
    const key = await keyWith({ rateLimitTpm: 100 })
    await recordTokens(key.id, 60)
    expect((await t.request('/test/spend', { key: key.key })).status).toBe(200)

    await recordTokens(key.id, 40)
    const refused = await t.request('/test/spend', { key: key.key })
    expect(refused.status).toBe(429)
    const body = await json(refused)
    expect(body.code).toBe('rate_limited')
    expect(body.detail).toContain('100 model tokens')
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(60)

    expect((await t.request('/v1/keys', { key: key.key })).status).toBe(200)
  })

  it('applies the server default token limit to keys without their own, and none when it is 0', async () => {
    const byDefault = await keyWith({})
    await recordTokens(byDefault.id, 999)
    expect((await t.request('/test/spend', { key: byDefault.key })).status).toBe(200)
    await recordTokens(byDefault.id, 1)
    expect((await t.request('/test/spend', { key: byDefault.key })).status).toBe(429)

    const unlimited = await keyWith({ rateLimitTpm: 0 })
    await recordTokens(unlimited.id, 5_000_000)
    expect((await t.request('/test/spend', { key: unlimited.key })).status).toBe(200)
  })

  it('adds up tokens recorded by concurrent calls without losing any', async () => {
    const key = await keyWith({})
    await Promise.all(Array.from({ length: 20 }, () => recordTokens(key.id, 7)))
    await recordTokens(key.id, 0)
    const { rows } = await t.db.pool.query(
      'SELECT sum(tokens)::int AS n FROM rate_limit_windows WHERE key_id = $1',
      [key.id],
    )
    expect(rows[0].n).toBe(140)
  })
})

describe('per-key limits on key creation', () => {
  it('stores the limits given to POST /v1/keys and lists them', async () => {
    const res = await t.request('/v1/keys', {
      method: 'POST',
      key: t.adminKey,
      json: { name: 'batch app', scopes: ['generate'], rateLimitRpm: 30, rateLimitTpm: 0 },
    })
    expect(res.status).toBe(201)
    const created = await json(res)
    expect(created).toMatchObject({ rateLimitRpm: 30, rateLimitTpm: 0 })
    const listed = (await json(await t.request('/v1/keys', { key: t.adminKey }))).data
    expect(listed.find((k: { id: string }) => k.id === created.id)).toMatchObject({
      rateLimitRpm: 30,
      rateLimitTpm: 0,
    })
    const plain = await json(
      await t.request('/v1/keys', {
        method: 'POST',
        key: t.adminKey,
        json: { name: 'p', scopes: ['generate'] },
      }),
    )
    expect(plain).toMatchObject({ rateLimitRpm: null, rateLimitTpm: null })
  })

  it('rejects negative or fractional limits, naming each field', async () => {
    const res = await t.request('/v1/keys', {
      method: 'POST',
      key: t.adminKey,
      json: { name: 'bad', scopes: ['generate'], rateLimitRpm: -1, rateLimitTpm: 1.5 },
    })
    expect(res.status).toBe(400)
    const paths = (await json(res)).errors.map((e: { path: string }) => e.path)
    expect(paths).toEqual(expect.arrayContaining(['rateLimitRpm', 'rateLimitTpm']))
  })
})

describe('the rate-limit decision', () => {
  const defaults = { rpm: 10, tpm: 500 }
  const window = { requests: 10, tokens: 0, rpm: null, tpm: null, resetSeconds: 17 }

  it('allows the request that reaches the limit exactly and refuses the next', () => {
    expect(decideRateLimit(window, defaults, 'admin')).toMatchObject({
      allowed: true,
      headers: { 'RateLimit-Limit': '10', 'RateLimit-Remaining': '0', 'RateLimit-Reset': '17' },
    })
    expect(decideRateLimit({ ...window, requests: 11 }, defaults, 'admin')).toMatchObject({
      allowed: false,
      limit: 'rpm',
      headers: { 'Retry-After': '17' },
    })
  })

  it('checks tokens only for generate-scope routes, refusing at the limit', () => {
    const spent = { ...window, requests: 1, tokens: 500 }
    expect(decideRateLimit(spent, defaults, 'generate')).toMatchObject({ allowed: false, limit: 'tpm' })
    expect(decideRateLimit(spent, defaults, 'admin').allowed).toBe(true)
    expect(decideRateLimit({ ...spent, tokens: 499 }, defaults, 'generate').allowed).toBe(true)
  })

  it('prefers the key’s own limits, where 0 turns a limit off', () => {
    expect(decideRateLimit({ ...window, requests: 11, rpm: 0 }, defaults, 'admin')).toEqual({
      allowed: true,
      headers: {},
    })
    expect(decideRateLimit({ ...window, requests: 3, rpm: 2 }, defaults, 'admin').allowed).toBe(false)
    expect(decideRateLimit({ ...window, tokens: 10_000, tpm: 0 }, defaults, 'generate').allowed).toBe(true)
  })
})
