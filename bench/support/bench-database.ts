import pg from 'pg'
import { ensureVectorAvailable, migrate } from '../../src/db/migrate.js'
import { type Database, openDatabase } from '../../src/db/pool.js'

/**
 * A migrated database of a benchmark's own on the PostgreSQL server at `serverUrl`, dropped and created
 * afresh so every run starts from the same state. Returns its URL and a small pool for seeding.
 */
export async function createBenchDatabase(
  serverUrl: string,
  name: string,
  poolSize = 2,
): Promise<{ db: Database; url: string }> {
  const admin = new pg.Client({ connectionString: serverUrl })
  await admin.connect()
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  const db = await openDatabase({ url: url.toString(), dataDir: '', poolSize })
  await ensureVectorAvailable(db.pool)
  await migrate(db.pool)
  return { db, url: url.toString() }
}
