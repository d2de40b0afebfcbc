import type { Extension } from '@electric-sql/pglite'

/**
 * What a session of a PostgreSQL server that crashed is told (crash_shutdown): the request may succeed
 * once the database is back, so `isDatabaseUnavailable` maps it to 503.
 */
const CRASH_SHUTDOWN = '57P02'

/** The embedded database's WebAssembly module stopped; no query can run on that instance again. */
export class EmbeddedDatabaseStopped extends Error {
  readonly code = CRASH_SHUTDOWN
  constructor(cause?: unknown) {
    super(`The embedded database stopped after a fatal error${cause ? ` (${describeCause(cause)})` : ''}`, {
      cause,
    })
    this.name = 'EmbeddedDatabaseStopped'
  }
}

function describeCause(cause: unknown): string {
  const message = cause instanceof Error ? cause.message : String(cause)
  return message.split('.')[0]!.slice(0, 200)
}

/** The parts of PGlite's Emscripten module that `execProtocolRawSync` calls for each message. */
interface PostgresModule {
  _PostgresMainLoopOnce(): void
  _PostgresSendReadyForQueryIfNecessary(): void
  _pgl_pq_flush(): void
  _pq_buffer_remaining_data(): number
  stackRestore(pointer: number): void
}

/**
 * How PostgreSQL's error recovery leaves the loop on any ERROR (a unique violation, say): PGlite's
 * `exit(100)`, caught by PGlite and followed by a long jump; the loop goes on.
 */
const POSTGRES_MAIN_LONGJMP = 100

export interface AbortGuard {
  /** Give this to `PGlite.create` as an extension; it wraps the module before the database starts. */
  extension: Extension
  /** Set once the module has stopped. */
  stopped(): EmbeddedDatabaseStopped | undefined
}

/**
 * PGlite 0.5 runs PostgreSQL's main loop in WebAssembly, one `_PostgresMainLoopOnce()` at a time, from
 * `execProtocolRawSync`, which catches every exception and calls the loop again while input is left.
 * When the module aborts (a checkpoint that failed on a full disk ends in `abort()`), the input is never
 * consumed: that loop spins forever on the event loop, and the whole process, /readyz and SIGTERM
 * included, freezes. This guard wraps the loop: any exception other than the error-recovery long jump
 * marks the instance stopped, and from then on the calls PGlite makes around the loop throw instead
 * of running, so the query in progress and every later one reject with `EmbeddedDatabaseStopped`.
 */
export function abortGuard(onStop: (error: EmbeddedDatabaseStopped) => void = () => {}): AbortGuard {
  let stopped: EmbeddedDatabaseStopped | undefined
  const stop = (cause: unknown): EmbeddedDatabaseStopped => {
    if (!stopped) {
      stopped = new EmbeddedDatabaseStopped(cause)
      onStop(stopped)
    }
    return stopped
  }
  const guard = (mod: PostgresModule) => {
    const loopOnce = mod._PostgresMainLoopOnce
    const stackRestore = mod.stackRestore
    const sendReady = mod._PostgresSendReadyForQueryIfNecessary
    const flush = mod._pgl_pq_flush
    const remaining = mod._pq_buffer_remaining_data
    mod._PostgresMainLoopOnce = () => {
      if (stopped) throw stopped
      try {
        loopOnce()
      } catch (error) {
        if ((error as { status?: unknown } | null)?.status !== POSTGRES_MAIN_LONGJMP) throw stop(error)
        throw error
      }
    }
    // Called in PGlite's catch block: throwing here is what ends its loop.
    mod.stackRestore = (pointer) => {
      stackRestore(pointer)
      if (stopped) throw stopped
    }
    mod._pq_buffer_remaining_data = () => {
      if (stopped) throw stopped
      return remaining()
    }
    // Called in PGlite's `finally`: on a stopped module they would throw over the error that says why.
    mod._PostgresSendReadyForQueryIfNecessary = () => {
      if (!stopped) sendReady()
    }
    mod._pgl_pq_flush = () => {
      if (!stopped) flush()
    }
  }
  const extension: Extension = {
    name: 'onbrand-abort-guard',
    setup: async (_pg, emscriptenOpts: { postRun?: unknown }) => {
      const postRun = emscriptenOpts.postRun
      const earlier = Array.isArray(postRun) ? postRun : postRun ? [postRun] : []
      return { emscriptenOpts: { ...emscriptenOpts, postRun: [...earlier, guard] } }
    },
  }
  return { extension, stopped: () => stopped }
}
