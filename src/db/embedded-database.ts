import type { Extension, PGlite } from '@electric-sql/pglite'
import { createPgConfig, PglitePgConnection } from '@electric-sql/pglite/node-postgres'
import pg from 'pg'
import type { Logger } from 'pino'
import { abortGuard, EmbeddedDatabaseStopped } from './pglite-guard.js'

/** What the embedded database reports: its stopping and its reopening. */
export type EmbeddedLogger = Pick<Logger, 'info' | 'error'>

export interface EmbeddedSupervisorOptions {
  /** Open one instance of the database; `guard` goes into its extensions. */
  open(guard: Extension): Promise<PGlite>
  /** Open a new instance after one stopped (data kept on disk); false for `memory://`, which would come back empty. */
  reopen: boolean
  logger?: EmbeddedLogger
  /** First wait before reopening; doubled after each failed attempt or a quick new stop, up to 30 s. */
  reopenDelayMs?: number
}

export interface EmbeddedSupervisor {
  /** The live instance, or undefined between a fatal error and the reopening. */
  current(): PGlite | undefined
  /** Why there is no live instance. */
  stoppedError(): EmbeddedDatabaseStopped
  close(): Promise<void>
}

const MAX_REOPEN_DELAY_MS = 30_000
/** A stop this soon after a reopening counts as the same trouble (a disk still full): wait longer. */
const QUICK_STOP_MS = 60_000

/**
 * Keeps one PGlite instance running. An instance whose WebAssembly module stops (see pglite-guard.ts)
 * is given up: its queries reject with `EmbeddedDatabaseStopped` (503), its files are let go, and a new
 * instance is opened on the same data folder after a pause. PostgreSQL's crash recovery replays the
 * write-ahead log, so every committed transaction is there again; what was not committed never was.
 */
export async function startEmbeddedSupervisor(
  options: EmbeddedSupervisorOptions,
): Promise<EmbeddedSupervisor> {
  const initialDelay = options.reopenDelayMs ?? 1000
  let live: PGlite | undefined
  let stopped = new EmbeddedDatabaseStopped()
  let delay = initialDelay
  let openedAt = 0
  let timer: NodeJS.Timeout | undefined
  let reopening: Promise<void> | undefined
  let closed = false

  const openInstance = async (): Promise<PGlite> => {
    let instance: PGlite | undefined
    const guard = abortGuard((error) => onStop(instance, error))
    instance = await options.open(guard.extension)
    const early = guard.stopped()
    if (early) throw early
    return instance
  }

  const onStop = (instance: PGlite | undefined, error: EmbeddedDatabaseStopped) => {
    if (!instance || instance !== live) return
    live = undefined
    stopped = error
    // Called from inside the module's failing call: its files are let go once that call has unwound.
    setImmediate(() => releaseFiles(instance))
    options.logger?.error(
      { err: error },
      options.reopen
        ? 'the embedded database stopped; requests that need it answer 503 until it is reopened'
        : 'the embedded database stopped; requests that need it answer 503 until the process restarts',
    )
    if (!options.reopen) return
    delay = Date.now() - openedAt < QUICK_STOP_MS ? Math.min(delay * 2, MAX_REOPEN_DELAY_MS) : initialDelay
    schedule()
  }

  const schedule = () => {
    if (closed) return
    timer = setTimeout(() => {
      timer = undefined
      reopening = reopen().finally(() => {
        reopening = undefined
      })
    }, delay)
    timer.unref()
  }

  const reopen = async () => {
    try {
      const instance = await openInstance()
      if (closed) {
        await instance.close()
        return
      }
      live = instance
      openedAt = Date.now()
      options.logger?.info('the embedded database was reopened')
    } catch (error) {
      options.logger?.error({ err: error }, 'reopening the embedded database failed; trying again')
      delay = Math.min(delay * 2, MAX_REOPEN_DELAY_MS)
      schedule()
    }
  }

  live = await openInstance()
  openedAt = Date.now()
  return {
    current: () => live,
    stoppedError: () => stopped,
    close: async () => {
      closed = true
      if (timer) clearTimeout(timer)
      await reopening
      const instance = live
      live = undefined
      // A stopped instance is not closed: closing runs the module, which cannot run any more.
      if (instance) await instance.close()
    },
  }
}

/** A supervisor for an instance opened elsewhere (tests, benches): nothing guards or reopens it. */
export function fixedInstance(pglite: PGlite): EmbeddedSupervisor {
  return {
    current: () => pglite,
    stoppedError: () => new EmbeddedDatabaseStopped(),
    close: () => pglite.close(),
  }
}

/** The pool over the supervisor's instance; closing ends the pool, then the instance, then runs `afterClose`. */
export function supervisedDatabase(supervisor: EmbeddedSupervisor, afterClose: () => void = () => {}) {
  const pool = createSupervisedPool(supervisor)
  return {
    pool,
    kind: 'embedded' as const,
    close: async () => {
      await pool.end()
      await supervisor.close()
      afterClose()
    },
  }
}

/** Close the stopped module's open files (PGlite's own close would first run the module). */
function releaseFiles(instance: PGlite): void {
  try {
    ;(instance.Module as { FS?: { quit(): void } }).FS?.quit()
  } catch {
    // The files close with the process at the latest.
  }
}

/**
 * A `pg.Pool` over the supervisor's live instance. PGlite is a single session, so the pool holds one
 * client. Each client gets its own protocol adapter, bound to the instance live when it connects: pg-pool
 * destroys a client after any failed query, and a client must never carry a session (an open
 * transaction) over to a reopened instance. While no instance is live, a client's queries reject with
 * the reason (503).
 */
export function createSupervisedPool(supervisor: EmbeddedSupervisor): pg.Pool {
  const first = supervisor.current()
  if (!first) throw supervisor.stoppedError()
  const { connection: _shared, ...config } = createPgConfig(first)
  class PgliteClient extends pg.Client {
    constructor(clientConfig?: pg.ClientConfig) {
      const pglite = supervisor.current() ?? stoppedInstance(supervisor.stoppedError())
      super({ ...clientConfig, connection: new PglitePgConnection({ pglite }) } as pg.ClientConfig)
    }
  }
  return new pg.Pool({ ...config, Client: PgliteClient, max: 1, idleTimeoutMillis: 0 })
}

/** Stands in for an instance while none is live: what the protocol adapter calls, rejecting. */
function stoppedInstance(error: EmbeddedDatabaseStopped): PGlite {
  const standIn = {
    waitReady: Promise.resolve(),
    execProtocolStream: () => Promise.reject(error),
  }
  return standIn as unknown as PGlite
}
