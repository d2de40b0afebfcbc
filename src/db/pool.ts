import { mkdirSync } from 'node:fs'
import { PGlite } from '@electric-sql/pglite'
import { createPgConfig, PglitePgConnection } from '@electric-sql/pglite/node-postgres'
import { vector } from '@electric-sql/pglite-pgvector'
import pg from 'pg'
import { acquireDataDirLock } from './data-dir-lock.js'

type DatabaseKind = 'embedded' | 'postgres'

export interface Database {
  pool: pg.Pool
  kind: DatabaseKind
  close(): Promise<void>
}

export interface OpenDatabaseOptions {
  /** A postgres:// URL; without one, an embedded PGlite database is used. */
  url?: string
  /** Where the embedded database keeps its files; `memory://` keeps them in memory. */
  dataDir: string
  poolSize: number
  /** Wait at most this long for a free connection (PostgreSQL); unbounded when absent. */
  acquireTimeoutMs?: number
}

// pg returns bigint (int8) and numeric as strings by default; ids and counts here fit in a double.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number.parseInt(value, 10))
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (value) => Number.parseFloat(value))

export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  if (options.url) {
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize,
      connectionTimeoutMillis: options.acquireTimeoutMs ?? 0,
    })
    // An idle client losing its server (restart, failover) must not crash the process.
    pool.on('error', () => {})
    return { pool, kind: 'postgres', close: () => pool.end() }
  }
  return openEmbeddedDatabase(options.dataDir)
}

/**
 * A `pg.Pool` over one PGlite instance. PGlite is a single session, so the pool holds one client.
 * Each client gets its own protocol adapter: pg-pool destroys a client after any failed
 * `pool.query` (a unique violation, say), and with one adapter shared by all clients that would leave
 * every later query on a dead connection.
 */
export function createPglitePool(pglite: PGlite): pg.Pool {
  const { connection: _shared, ...config } = createPgConfig(pglite)
  class PgliteClient extends pg.Client {
    constructor(clientConfig?: pg.ClientConfig) {
      super({ ...clientConfig, connection: new PglitePgConnection({ pglite }) } as pg.ClientConfig)
    }
  }
  return new pg.Pool({ ...config, Client: PgliteClient, max: 1, idleTimeoutMillis: 0 })
}

/** A Database over an open PGlite instance; closing it closes the instance, then runs `afterClose`. */
export function embeddedDatabase(pglite: PGlite, afterClose: () => void = () => {}): Database {
  const pool = createPglitePool(pglite)
  return {
    pool,
    kind: 'embedded',
    close: async () => {
      await pool.end()
      await pglite.close()
      afterClose()
    },
  }
}

/** Whether the database answers at all (readiness). */
export async function pingDatabase(pool: pg.Pool): Promise<void> {
  await pool.query('SELECT 1')
}

async function openEmbeddedDatabase(dataDir: string): Promise<Database> {
  const inMemory = dataDir.startsWith('memory://')
  const releaseLock = inMemory ? () => {} : acquireDataDirLock(dataDir)
  try {
    if (!inMemory) mkdirSync(dataDir, { recursive: true })
    const pglite = await PGlite.create({ dataDir, extensions: { vector } })
    return embeddedDatabase(pglite, releaseLock)
  } catch (error) {
    releaseLock()
    throw error
  }
}
