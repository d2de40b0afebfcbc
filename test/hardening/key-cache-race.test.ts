import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiKeyCache } from '../../src/auth/authenticate.js'
import { createKey, revokeKey } from '../../src/auth/manage-keys.js'
import type { Database } from '../../src/db/pool.js'
import type { Queryable } from '../../src/db/transaction.js'
import { createTestDatabase } from '../support/test-db.js'

let db: Database
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(async () => db.close())

describe('the API key cache and revocation', () => {
  it('does not keep a row read before a revocation that forget() reported', async () => {
    const key = await createKey(db.pool, { name: 'racing', scopes: ['admin'] })
    // Answers come back 100 ms late, so a revocation can land between the read and its caching.
    const slow: Queryable = {
      query: (async (...args: unknown[]) => {
        const result = await (db.pool.query as (...a: unknown[]) => Promise<unknown>).apply(db.pool, args)
        await new Promise((resolve) => setTimeout(resolve, 100))
        return result
      }) as Queryable['query'],
    }
    const cache = new ApiKeyCache(slow, 60_000)
    const reading = cache.find(key.id)
    await new Promise((resolve) => setTimeout(resolve, 30))
    await revokeKey(db.pool, key.id)
    cache.forget(key.id)
    expect((await reading)?.revokedAt).toBeNull() // the read itself predates the revocation
    expect((await cache.find(key.id))?.revokedAt).toBeInstanceOf(Date)
  })
})
