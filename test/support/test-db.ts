import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { vector } from '@electric-sql/pglite-pgvector'
import pg from 'pg'
import { ensureVectorAvailable, loadMigrations, migrate } from '../../src/db/migrate.js'
import { createPglitePool, type Database, embeddedDatabase, openDatabase } from '../../src/db/pool.js'

/**
 * A migrated database of this test file's own: an in-memory PGlite by default, or a fresh database on
 * the PostgreSQL server named by TEST_DATABASE_URL (dropped again by close()).
 */
export async function createTestDatabase(
  options: { migrate?: boolean } = {},
): Promise<Database & { url?: string }> {
  const serverUrl = process.env.TEST_DATABASE_URL
  if (!serverUrl) {
    if (options.migrate === false) return openDatabase({ dataDir: 'memory://', poolSize: 1 })
    return openMigratedPglite()
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

/**
 * initdb inside PGlite takes seconds; loading a migrated data folder saved by an earlier test file
 * takes a fraction of that. The saved copy is keyed by the migrations, so a schema change makes a new one.
 */
async function openMigratedPglite(): Promise<Database> {
  const key = createHash('sha256')
    .update(
      loadMigrations()
        .map((m) => m.checksum)
        .join(','),
    )
    .digest('hex')
    .slice(0, 16)
  const templatePath = join(tmpdir(), `onbrand-pglite-template-${key}.tar`)
  if (!existsSync(templatePath)) {
    const fresh = await PGlite.create({ dataDir: 'memory://', extensions: { vector } })
    const pool = createPglitePool(fresh)
    await migrate(pool)
    await pool.end()
    const dump = await fresh.dumpDataDir('none')
    await fresh.close()
    const partial = `${templatePath}.${process.pid}.tmp`
    writeFileSync(partial, Buffer.from(await dump.arrayBuffer()))
    renameSync(partial, templatePath)
  }
  const pglite = await PGlite.create({
    dataDir: 'memory://',
    extensions: { vector },
    loadDataDir: new Blob([readFileSync(templatePath)]),
  })
  return embeddedDatabase(pglite)
}

export function usingRealPostgres(): boolean {
  return Boolean(process.env.TEST_DATABASE_URL)
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}
