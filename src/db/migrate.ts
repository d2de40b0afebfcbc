import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type pg from 'pg'
import type { Logger } from 'pino'
import type { Config } from '../config.js'
import { projectRoot } from '../lib/project-root.js'
import { StartupError } from '../lib/startup-error.js'
import { type Database, openDatabase } from './pool.js'
import { withClient } from './transaction.js'

export interface Migration {
  version: number
  name: string
  sql: string
  checksum: string
}

const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/
// Any constant works; it only has to be the same for every Onbrand process sharing a database.
const MIGRATION_LOCK_KEY = 7_201_555_001

export function migrationsDir(): string {
  return join(projectRoot(), 'migrations')
}

export function loadMigrations(dir: string = migrationsDir()): Migration[] {
  const migrations = readdirSync(dir)
    .filter((file) => file.endsWith('.sql'))
    .map((file) => {
      const match = FILE_PATTERN.exec(file)
      if (!match) throw new StartupError(`Migration file name ${file} does not match NNNN_name.sql`)
      const sql = readFileSync(join(dir, file), 'utf8')
      return {
        version: Number(match[1]),
        name: match[2] ?? '',
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
      }
    })
    .sort((a, b) => a.version - b.version)
  // Numbers are handed out to work in parallel, so they may land out of order and leave gaps for a
  // while: a missing number is fine (migrate applies whatever is not recorded yet, in number order), a
  // number used twice is not.
  migrations.forEach((migration, index) => {
    if (migration.version < 1 || migration.version === migrations[index - 1]?.version) {
      throw new StartupError(`Migration number ${migration.version} is used twice or is not positive`)
    }
  })
  return migrations
}

/** Fails with instructions when a real PostgreSQL server lacks pgvector, before any migration runs. */
export async function ensureVectorAvailable(pool: pg.Pool): Promise<void> {
  const { rows } = await pool.query("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
  if (rows.length === 0) {
    throw new StartupError(
      'The PostgreSQL server has no pgvector extension. Install it (Debian/Ubuntu: ' +
        'apt-get install postgresql-<major>-pgvector; Docker: use the pgvector/pgvector image; from source: ' +
        'https://github.com/pgvector/pgvector#installation), or unset DATABASE_URL to use the embedded database.',
    )
  }
}

/**
 * Apply pending migrations in order, one transaction per file, under an advisory lock so that several
 * processes starting at once apply each file exactly once. Returns the names applied by this call.
 */
export async function migrate(pool: pg.Pool, migrations: Migration[] = loadMigrations()): Promise<string[]> {
  return withClient(pool, async (client) => {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY])
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`)
      const applied = await appliedMigrations(client)
      const done: string[] = []
      for (const migration of migrations) {
        const previous = applied.get(migration.version)
        if (previous !== undefined) {
          if (previous !== migration.checksum) {
            throw new StartupError(
              `Migration ${fileName(migration)} was changed after it was applied; migrations are forward-only, add a new file instead`,
            )
          }
          continue
        }
        await applyOne(client, migration)
        done.push(fileName(migration))
      }
      return done
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY])
    }
  })
}

/** Versions known to this build but not applied to the database (readiness fails while any remain). */
export async function pendingMigrations(db: pg.Pool, migrations: Migration[]): Promise<number[]> {
  const { rows } = await db.query<{ exists: boolean }>(
    "SELECT to_regclass('schema_migrations') IS NOT NULL AS exists",
  )
  if (!rows[0]?.exists) return migrations.map((m) => m.version)
  const applied = await appliedMigrations(db)
  return migrations.filter((m) => !applied.has(m.version)).map((m) => m.version)
}

async function appliedMigrations(db: Pick<pg.Pool, 'query'>): Promise<Map<number, string>> {
  const { rows } = await db.query<{ version: number; checksum: string }>(
    'SELECT version, checksum FROM schema_migrations',
  )
  return new Map(rows.map((row) => [row.version, row.checksum]))
}

async function applyOne(client: pg.PoolClient, migration: Migration): Promise<void> {
  try {
    await client.query('BEGIN')
    await client.query(migration.sql)
    await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
      migration.version,
      migration.name,
      migration.checksum,
    ])
    await client.query('COMMIT')
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    throw new StartupError(`Migration ${fileName(migration)} failed: ${(error as Error).message}`)
  }
}

function fileName(migration: Migration): string {
  return `${String(migration.version).padStart(4, '0')}_${migration.name}.sql`
}

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
    logger,
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
