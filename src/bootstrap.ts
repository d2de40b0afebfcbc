import type { Logger } from 'pino'
import { bootstrapAdminKey } from './auth/manage-keys.js'
import type { Config } from './config.js'
import { ensureVectorAvailable, loadMigrations, type Migration, migrate } from './db/migrate.js'
import { type Database, openDatabase } from './db/pool.js'
import { withTransaction } from './db/transaction.js'

// Serialises the first-key check across processes starting together against one database.
const BOOTSTRAP_LOCK_KEY = 7_201_555_002

/** Open the database and bring its schema up to date: what the server, the worker and every CLI share. */
export async function openMigratedDatabase(
  config: Config,
  logger: Logger,
): Promise<{ db: Database; migrations: Migration[] }> {
  const migrations = loadMigrations()
  const db = await openDatabase({
    url: config.DATABASE_URL,
    dataDir: config.DATA_DIR,
    poolSize: config.DB_POOL_SIZE,
    acquireTimeoutMs: config.DB_ACQUIRE_TIMEOUT_MS,
  })
  try {
    if (db.kind === 'postgres') await ensureVectorAvailable(db.pool)
    const applied = await migrate(db.pool, migrations)
    if (applied.length > 0) logger.info({ applied }, 'migrations applied')
    return { db, migrations }
  } catch (error) {
    await db.close().catch(() => {})
    throw error
  }
}

export async function ensureAdminKey(db: Database): Promise<string | undefined> {
  return withTransaction(db.pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [BOOTSTRAP_LOCK_KEY])
    return bootstrapAdminKey(client)
  })
}
