import { lstatSync, mkdirSync, realpathSync } from 'node:fs'
import { inspect } from 'node:util'
import { PGlite } from '@electric-sql/pglite'
import { vector } from '@electric-sql/pglite-pgvector'
import pg from 'pg'
import { StartupError } from '../lib/startup-error.js'
import { acquireDataDirLock } from './data-dir-lock.js'
import {
  createSupervisedPool,
  type EmbeddedLogger,
  fixedInstance,
  startEmbeddedSupervisor,
  supervisedDatabase,
} from './embedded-database.js'

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
  /** Where the embedded database reports that it stopped or was reopened. */
  logger?: EmbeddedLogger
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
  return openEmbeddedDatabase(options.dataDir, options.logger)
}

/** A `pg.Pool` over one PGlite instance opened elsewhere (tests, benches); see createSupervisedPool. */
export function createPglitePool(pglite: PGlite): pg.Pool {
  return createSupervisedPool(fixedInstance(pglite))
}

/** A Database over an open PGlite instance; closing it closes the instance, then runs `afterClose`. */
export function embeddedDatabase(pglite: PGlite, afterClose: () => void = () => {}): Database {
  return supervisedDatabase(fixedInstance(pglite), afterClose)
}

/** Whether the database answers at all (readiness). */
export async function pingDatabase(pool: pg.Pool): Promise<void> {
  await pool.query('SELECT 1')
}

/**
 * The embedded database, kept running by a supervisor: a PGlite instance whose module stops (a full
 * disk) answers 503 instead of freezing the process, and a new instance is opened on the same folder.
 */
async function openEmbeddedDatabase(configured: string, logger?: EmbeddedLogger): Promise<Database> {
  const inMemory = configured.startsWith('memory://')
  const dataDir = inMemory ? configured : resolveDataDir(configured)
  const releaseLock = inMemory ? () => {} : acquireDataDirLock(dataDir)
  try {
    const supervisor = await startEmbeddedSupervisor({
      open: (guard) => PGlite.create({ dataDir, extensions: { vector, guard } }),
      reopen: !inMemory,
      logger,
    })
    return supervisedDatabase(supervisor, releaseLock)
  } catch (error) {
    releaseLock()
    if (inMemory) throw error
    throw new StartupError(
      `The embedded database in ${configured} could not be opened: ${describeFsError(error)}. DATA_DIR must be a folder this process can write.`,
    )
  }
}

/**
 * The data folder, created if missing, as a real path: PGlite's file system cannot mount a symbolic
 * link (it failed with an opaque error object), and one lock file per real folder keeps two links to
 * the same folder from opening it twice.
 */
function resolveDataDir(dataDir: string): string {
  try {
    mkdirSync(dataDir, { recursive: true })
    return realpathSync(dataDir)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EEXIST' || code === 'ENOTDIR' || isSymbolicLink(dataDir)) {
      throw new StartupError(
        `DATA_DIR ${dataDir} is not a folder (a file, or a symbolic link to something missing); point it at a folder.`,
      )
    }
    throw new StartupError(`DATA_DIR ${dataDir} cannot be created: ${describeFsError(error)}.`)
  }
}

function isSymbolicLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink()
  } catch {
    return false
  }
}

// PGlite's (Emscripten's) file-system errors are plain objects with a wasm errno, not Errors.
const WASM_ERRNO: Record<number, string> = {
  2: 'EACCES: permission denied',
  19: 'EDQUOT: disk quota exceeded',
  29: 'EIO: input/output error',
  32: 'ELOOP: too many symbolic links',
  44: 'ENOENT: no such file or folder',
  51: 'ENOSPC: no space left on the device',
  54: 'ENOTDIR: not a folder',
  63: 'EPERM: operation not permitted',
  69: 'EROFS: read-only file system',
}

/** A readable line for whatever a file-system call threw. */
export function describeFsError(error: unknown): string {
  if (error instanceof Error) return error.message
  if (typeof error === 'object' && error !== null && 'errno' in error) {
    const errno = (error as { errno: unknown }).errno
    return typeof errno === 'number' ? (WASM_ERRNO[errno] ?? `file-system error ${errno}`) : inspect(error)
  }
  return inspect(error)
}
