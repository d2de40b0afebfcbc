import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createKey } from '../../src/auth/manage-keys.js'
import { claimSize, RateLimiter } from '../../src/auth/rate-limiter.js'
import type { Database } from '../../src/db/pool.js'
import type { Queryable } from '../../src/db/transaction.js'
import { createLogger } from '../../src/logger.js'
import { countingPool } from '../support/counting-pool.js'
import { clearOfMinuteBoundary } from '../support/minute-boundary.js'
import { createTestDatabase } from '../support/test-db.js'

// The limiter admits requests from blocks claimed ahead and sends token charges in batches; these tests
// pin down what that still guarantees, with two limiters on one database standing in for two instances.
let db: Database
const logger = createLogger('silent')
const limiters: RateLimiter[] = []
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(async () => {
  for (const limiter of limiters) await limiter.close()
  await db.close()
})

function limiter(pool: Queryable = db.pool, defaults = { rpm: 0, tpm: 0 }): RateLimiter {
  const made = new RateLimiter(pool, defaults, { syncMs: 60_000, refreshMs: 60_000, logger })
  limiters.push(made)
  return made
}

async function keyWith(limits: { rateLimitRpm?: number; rateLimitTpm?: number }) {
  // Each test counts within one minute; start it clear of the minute's end.
  await clearOfMinuteBoundary(db.pool)
  const created = await createKey(db.pool, { name: 'limited', scopes: ['generate'], ...limits })
  return {
    id: created.id,
    rateLimitRpm: limits.rateLimitRpm ?? null,
    rateLimitTpm: limits.rateLimitTpm ?? null,
  }
}

async function windowOf(keyId: string): Promise<{ requests: number; tokens: number }> {
  const { rows } = await db.pool.query(
    'SELECT coalesce(sum(requests), 0)::int AS requests, coalesce(sum(tokens), 0)::int AS tokens FROM rate_limit_windows WHERE key_id = $1',
    [keyId],
  )
  return rows[0]
}

describe('requests per minute, claimed in blocks', () => {
  it('claims 5% of the limit at a time and one request at a time under 40', () => {
    expect([claimSize(1), claimSize(39), claimSize(40), claimSize(600), claimSize(1_000_000)]).toEqual([
      1, 1, 2, 30, 50_000,
    ])
  })

  it('admits exactly the limit on one instance, with exact RateLimit headers, claiming a block at a time', async () => {
    const key = await keyWith({ rateLimitRpm: 100 })
    const one = limiter()
    const first = await one.admit(key, 'generate')
    expect(first).toMatchObject({ allowed: true, headers: { 'RateLimit-Remaining': '99' } })
    expect((await windowOf(key.id)).requests).toBe(5) // one block claimed, four still held here
    const remaining: string[] = []
    for (let i = 0; i < 99; i++) {
      const decision = await one.admit(key, 'generate')
      expect(decision.allowed).toBe(true)
      remaining.push(decision.headers['RateLimit-Remaining']!)
    }
    expect(remaining.at(-1)).toBe('0')
    expect(remaining).toEqual(remaining.toSorted((a, b) => Number(b) - Number(a)))
    const refused = await one.admit(key, 'generate')
    expect(refused).toMatchObject({ allowed: false, limit: 'rpm' })
    expect(Number(refused.headers['Retry-After'])).toBeGreaterThanOrEqual(1)
    expect((await windowOf(key.id)).requests).toBe(100)
  })

  it('never admits more than the limit across instances, and strands at most a block', async () => {
    const key = await keyWith({ rateLimitRpm: 100 })
    const [a, b] = [limiter(), limiter()]
    const decisions = await Promise.all(
      Array.from({ length: 160 }, (_, i) => (i % 2 === 0 ? a : b).admit(key, 'generate')),
    )
    const admitted = decisions.filter((d) => d.allowed).length
    expect(admitted).toBeLessThanOrEqual(100)
    expect(admitted).toBeGreaterThanOrEqual(100 - claimSize(100))
    expect((await windowOf(key.id)).requests).toBeLessThanOrEqual(100)
  })

  it('refreshes a stale view without claiming more, and never refuses while the minute has room', async () => {
    const key = await keyWith({ rateLimitRpm: 100 })
    const quick = new RateLimiter(db.pool, { rpm: 0, tpm: 0 }, { syncMs: 60_000, refreshMs: 50, logger })
    limiters.push(quick)
    expect((await quick.admit(key, 'generate')).allowed).toBe(true)
    await new Promise((resolve) => setTimeout(resolve, 80))
    expect((await quick.admit(key, 'generate')).allowed).toBe(true)
    expect((await windowOf(key.id)).requests).toBe(5) // refreshed, not claimed again
    await new Promise((resolve) => setTimeout(resolve, 80))
    // Ten at once on a stale view with three requests left: some wait on the refresh, then claim.
    const decisions = await Promise.all(Array.from({ length: 10 }, () => quick.admit(key, 'generate')))
    expect(decisions.filter((d) => !d.allowed)).toEqual([])
    expect((await windowOf(key.id)).requests).toBeLessThanOrEqual(15)
  })

  it('refuses a used-up key without a statement per request, and asks again after refreshMs', async () => {
    const key = await keyWith({ rateLimitRpm: 2 })
    const { pool: counting, seen } = countingPool(db.pool)
    const one = new RateLimiter(counting, { rpm: 0, tpm: 0 }, { syncMs: 60_000, refreshMs: 300, logger })
    limiters.push(one)
    expect((await one.admit(key, 'generate')).allowed).toBe(true)
    expect((await one.admit(key, 'generate')).allowed).toBe(true)
    expect(seen.statements).toBe(2) // limits under 40 claim one request at a time
    for (let i = 0; i < 50; i++) expect((await one.admit(key, 'generate')).allowed).toBe(false)
    expect(seen.statements).toBe(3) // one claim found the minute used up; the other 49 were refused here
    await new Promise((resolve) => setTimeout(resolve, 350))
    expect((await one.admit(key, 'generate')).allowed).toBe(false)
    expect(seen.statements).toBe(4)
  })

  it('gives unused claimed requests back on shutdown', async () => {
    const key = await keyWith({ rateLimitRpm: 100 })
    const leaving = new RateLimiter(
      db.pool,
      { rpm: 0, tpm: 0 },
      { syncMs: 60_000, refreshMs: 60_000, logger },
    )
    expect((await leaving.admit(key, 'generate')).allowed).toBe(true)
    expect((await windowOf(key.id)).requests).toBe(5)
    await leaving.close()
    expect((await windowOf(key.id)).requests).toBe(1)
    const staying = limiter()
    let admitted = 0
    while ((await staying.admit(key, 'generate')).allowed) admitted += 1
    expect(admitted).toBe(99)
  })

  it('costs no database statement for keys without limits', async () => {
    const key = await keyWith({ rateLimitRpm: 0, rateLimitTpm: 0 })
    const { pool: counting, seen } = countingPool(db.pool)
    const free = limiter(counting)
    for (let i = 0; i < 10; i++) expect((await free.admit(key, 'generate')).allowed).toBe(true)
    expect(seen.statements).toBe(0)
  })
})

describe('model tokens per minute, charged in batches', () => {
  it('counts this instance’s unsent charges at once', async () => {
    const key = await keyWith({ rateLimitTpm: 1000 })
    const one = limiter()
    expect((await one.admit(key, 'generate')).allowed).toBe(true)
    one.chargeTokens(key.id, 1000)
    expect(await one.admit(key, 'generate')).toMatchObject({ allowed: false, limit: 'tpm' })
    expect((await one.admit(key, 'admin')).allowed).toBe(true) // tokens only gate generate routes
    expect((await windowOf(key.id)).tokens).toBe(0)
    await one.flush()
    expect((await windowOf(key.id)).tokens).toBe(1000)
  })

  it('sees another instance’s charges once they are sent', async () => {
    const key = await keyWith({ rateLimitTpm: 500 })
    const [a, b] = [limiter(), limiter()]
    a.chargeTokens(key.id, 300)
    a.chargeTokens(key.id, 200)
    await a.flush()
    expect(await b.admit(key, 'generate')).toMatchObject({ allowed: false, limit: 'tpm' })
  })

  it('keeps charges that failed to send and sends them with the next sync', async () => {
    const key = await keyWith({})
    const { pool: flaky } = countingPool(db.pool, 1)
    const one = limiter(flaky)
    one.chargeTokens(key.id, 70)
    await one.flush() // fails: the charge goes back
    expect((await windowOf(key.id)).tokens).toBe(0)
    one.chargeTokens(key.id, 5)
    await one.flush()
    expect((await windowOf(key.id)).tokens).toBe(75)
  })
})
