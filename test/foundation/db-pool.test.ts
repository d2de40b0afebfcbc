import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Database } from '../../src/db/pool.js'
import { withTransaction } from '../../src/db/transaction.js'
import { createTestDatabase } from '../support/test-db.js'

let db: Database
beforeAll(async () => {
  db = await createTestDatabase()
  await db.pool.query('CREATE TABLE pool_probe (id int PRIMARY KEY)')
  await db.pool.query('INSERT INTO pool_probe VALUES (1)')
})
afterAll(async () => db.close())

describe('the database pool', () => {
  it('keeps answering after queries fail with constraint, syntax and data errors', async () => {
    const failing = ['INSERT INTO pool_probe VALUES (1)', 'SELEC 1', 'SELECT 1/0']
    for (const sql of failing) {
      await expect(db.pool.query(sql)).rejects.toHaveProperty('code')
      const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM pool_probe')
      expect(rows[0].n).toBe(1)
    }
    await expect(db.pool.query('SELECT $1::int', ['x'])).rejects.toHaveProperty('code', '22P02')
    expect((await db.pool.query('SELECT 2 AS two')).rows[0].two).toBe(2)
  })

  it('rolls a failed transaction back whole and serves the next one', async () => {
    await expect(
      withTransaction(db.pool, async (client) => {
        await client.query('INSERT INTO pool_probe VALUES (2)')
        await client.query('INSERT INTO pool_probe VALUES (1)')
      }),
    ).rejects.toHaveProperty('code', '23505')
    await withTransaction(db.pool, (client) => client.query('INSERT INTO pool_probe VALUES (3)'))
    const { rows } = await db.pool.query('SELECT array_agg(id ORDER BY id) AS ids FROM pool_probe')
    expect(rows[0].ids).toEqual([1, 3])
  })
})
