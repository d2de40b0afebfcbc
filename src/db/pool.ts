import { mkdirSync } from 'node:fs'
import { PGlite } from '@electric-sql/pglite'
import { createPgConfig } from '@electric-sql/pglite/node-postgres'
import { vector } from '@electric-sql/pglite-pgvector'
import pg from 'pg'
import { acquireDataDirLock } from './data-dir-lock.js'

export type DatabaseKind = 'embedded' | 'postgres'

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
}

// pg returns bigint (int8) and numeric as strings by default; ids and counts here fit in a double.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number.parseInt(value, 10))
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (value) => Number.parseFloat(value))

export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  if (options.url) {
    const pool = new pg.Pool({ connectionString: options.url, max: options.poolSize })
    // An idle client losing its server (restart, failover) must not crash the process.
    pool.on('error', () => {})
    return { pool, kind: 'postgres', close: () => pool.end() }
  }
  return openEmbeddedDatabase(options.dataDir)
}

async function openEmbeddedDatabase(dataDir: string): Promise<Database> {
  const inMemory = dataDir.startsWith('memory://')
  const releaseLock = inMemory ? () => {} : acquireDataDirLock(dataDir)
  try {
    if (!inMemory) mkdirSync(dataDir, { recursive: true })
    const pglite = await PGlite.create({ dataDir, extensions: { vector } })
    // PGlite is one connection: the pool must hold exactly one client and never retire it,
    // because every client shares the same underlying connection object.
    const pool = new pg.Pool({ ...createPgConfig(pglite), max: 1, idleTimeoutMillis: 0 })
    return {
      pool,
      kind: 'embedded',
      close: async () => {
        await pool.end()
        await pglite.close()
        releaseLock()
      },
    }
  } catch (error) {
    releaseLock()
    throw error
  }
}
