import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { ensureVectorAvailable, migrate } from '../../src/db/migrate.js'
import { type Database, openDatabase } from '../../src/db/pool.js'

/**
 * A migrated database of this test file's own: an in-memory PGlite by default, or a fresh database on
 * the PostgreSQL server named by TEST_DATABASE_URL (dropped again by close()).
 */
export async function createTestDatabase(
  options: { migrate?: boolean } = {},
): Promise<Database & { url?: string }> {
  const serverUrl = process.env.TEST_DATABASE_URL
  if (!serverUrl) {
    const db = await openDatabase({ dataDir: 'memory://', poolSize: 1 })
    if (options.migrate !== false) await migrate(db.pool)
    return db
  }
  const name = `onbrand_test_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: serverUrl })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = withDatabase(serverUrl, name)
  const db = await openDatabase({ url, dataDir: '', poolSize: 5 })
  await ensureVectorAvailable(db.pool)
  if (options.migrate !== false) await migrate(db.pool)
  return {
    ...db,
    url,
    close: async () => {
      await db.close()
      const cleanup = new pg.Client({ connectionString: serverUrl })
      await cleanup.connect()
      await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await cleanup.end()
    },
  }
}

export function usingRealPostgres(): boolean {
  return Boolean(process.env.TEST_DATABASE_URL)
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}
