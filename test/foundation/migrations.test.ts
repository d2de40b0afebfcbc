import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadMigrations, migrate, migrationsDir, pendingMigrations } from '../../src/db/migrate.js'
import type { Database } from '../../src/db/pool.js'
import { createTestDatabase, usingRealPostgres } from '../support/test-db.js'

let db: Database | undefined
afterEach(async () => {
  await db?.close()
  db = undefined
})

describe('migrations', () => {
  it('apply every file once and re-running them is a no-op', async () => {
    db = await createTestDatabase({ migrate: false })
    const all = loadMigrations()
    expect(await pendingMigrations(db.pool, all)).toEqual(all.map((m) => m.version))

    const first = await migrate(db.pool, all)
    expect(first).toEqual(all.map((m) => `${String(m.version).padStart(4, '0')}_${m.name}.sql`))
    const tables = await db.pool.query<{ count: number }>(
      "SELECT count(*)::int AS count FROM pg_tables WHERE schemaname = 'public'",
    )

    expect(await migrate(db.pool, all)).toEqual([])
    expect(await pendingMigrations(db.pool, all)).toEqual([])
    const again = await db.pool.query<{ count: number }>(
      "SELECT count(*)::int AS count FROM pg_tables WHERE schemaname = 'public'",
    )
    expect(again.rows[0]?.count).toBe(tables.rows[0]?.count)
    const recorded = await db.pool.query('SELECT version FROM schema_migrations ORDER BY version')
    expect(recorded.rows.map((r) => r.version)).toEqual(all.map((m) => m.version))
  })

  it('refuse to start when an applied file was edited afterwards', async () => {
    db = await createTestDatabase({ migrate: false })
    const all = loadMigrations()
    await migrate(db.pool, all)
    const edited = all.map((m, i) => (i === 0 ? { ...m, checksum: 'different' } : m))
    await expect(migrate(db.pool, edited)).rejects.toThrow(/was changed after it was applied/)
  })

  it('roll a failing file back whole and record nothing for it', async () => {
    db = await createTestDatabase({ migrate: false })
    const dir = mkdtempSync(join(tmpdir(), 'onbrand-migrations-'))
    writeFileSync(join(dir, '0001_initial.sql'), readFileSync(join(migrationsDir(), '0001_initial.sql')))
    writeFileSync(
      join(dir, '0002_broken.sql'),
      'CREATE TABLE half_done (id int);\nSELECT no_such_function();',
    )
    await expect(migrate(db.pool, loadMigrations(dir))).rejects.toThrow(/0002_broken\.sql failed/)
    const half = await db.pool.query("SELECT to_regclass('half_done') IS NULL AS gone")
    expect(half.rows[0]?.gone).toBe(true)
    const recorded = await db.pool.query('SELECT version FROM schema_migrations ORDER BY version')
    expect(recorded.rows.map((r) => r.version)).toEqual([1])
  })

  it('apply a lower-numbered file that lands after a higher one, and refuse a number used twice', async () => {
    db = await createTestDatabase({ migrate: false })
    const dir = mkdtempSync(join(tmpdir(), 'onbrand-migrations-'))
    writeFileSync(join(dir, '0001_initial.sql'), readFileSync(join(migrationsDir(), '0001_initial.sql')))
    writeFileSync(join(dir, '0003_later.sql'), 'CREATE TABLE third (id int);')
    expect(await migrate(db.pool, loadMigrations(dir))).toEqual(['0001_initial.sql', '0003_later.sql'])
    writeFileSync(join(dir, '0002_landed_late.sql'), 'CREATE TABLE second (id int);')
    expect(await migrate(db.pool, loadMigrations(dir))).toEqual(['0002_landed_late.sql'])
    const recorded = await db.pool.query('SELECT version FROM schema_migrations ORDER BY version')
    expect(recorded.rows.map((r) => r.version)).toEqual([1, 2, 3])
    writeFileSync(join(dir, '0002_clash.sql'), 'SELECT 1;')
    expect(() => loadMigrations(dir)).toThrow(/used twice/)
  })

  it('reject file names that do not follow NNNN_name.sql', () => {
    const dir = mkdtempSync(join(tmpdir(), 'onbrand-migrations-'))
    writeFileSync(join(dir, '1_init.sql'), 'SELECT 1')
    expect(() => loadMigrations(dir)).toThrow(/does not match/)
  })

  it.runIf(usingRealPostgres())(
    'apply each file exactly once when several processes start together',
    async () => {
      db = await createTestDatabase({ migrate: false })
      const { openDatabase } = await import('../../src/db/pool.js')
      const url = (db as Database & { url?: string }).url!
      const others = await Promise.all([1, 2, 3].map(() => openDatabase({ url, dataDir: '', poolSize: 2 })))
      try {
        const results = await Promise.all(others.map((other) => migrate(other.pool)))
        const appliedCount = results.reduce((sum, applied) => sum + applied.length, 0)
        expect(appliedCount).toBe(loadMigrations().length)
      } finally {
        await Promise.all(others.map((other) => other.close()))
      }
    },
  )
})
