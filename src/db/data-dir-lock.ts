import { randomBytes } from 'node:crypto'
import { linkSync, mkdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { StartupError } from '../lib/startup-error.js'

/** A takeover directory older than this was left by a process that died mid-takeover (it takes ms). */
const TAKEOVER_STALE_MS = 10_000
const ATTEMPTS = 20

/**
 * The embedded database belongs to one process at a time; a second one (say `npm run keys` while the
 * server runs) would corrupt it. A pid file beside the data folder turns that into a clear error.
 *
 * Acquisition is atomic: the pid is written to a private file first, then hard-linked to the lock
 * path, which fails if the lock exists, so the lock is never seen empty and two processes can never
 * both create it. A lock left by a dead process is taken over under a second, mkdir-based lock, and
 * only after re-reading the lock under it: of several processes finding the same stale lock, one
 * removes it and the others find the winner's live lock.
 */
export function acquireDataDirLock(dataDir: string): () => void {
  const lockPath = `${resolve(dataDir)}.lock`
  mkdirSync(dirname(lockPath), { recursive: true })
  const release = () => {
    if (readHolder(lockPath) === process.pid) rmSync(lockPath, { force: true })
  }
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    if (tryCreate(lockPath)) return release
    const holder = readHolder(lockPath)
    if (holder === process.pid) return release
    if (holder !== undefined && isAlive(holder)) throw inUse(dataDir, holder)
    // Absent (released meanwhile), unreadable or held by a dead process: take it over, then retry.
    removeStaleLock(lockPath, holder)
  }
  throw new StartupError(`Could not take the lock of the embedded database in ${dataDir}; try again.`)
}

/** Link a file holding our pid to the lock path: atomic, and fails (false) when the lock exists. */
function tryCreate(lockPath: string): boolean {
  const own = `${lockPath}.${process.pid}.${randomBytes(6).toString('hex')}`
  writeFileSync(own, String(process.pid))
  try {
    linkSync(own, lockPath)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw error
  } finally {
    rmSync(own, { force: true })
  }
}

/** Remove the lock only if it still names `stale` (a dead or unreadable holder), one process at a time. */
function removeStaleLock(lockPath: string, stale: number | undefined): void {
  const takeover = `${lockPath}.takeover`
  try {
    mkdirSync(takeover)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    clearAbandonedTakeover(takeover)
    return // another process is taking over; the caller retries and finds its result
  }
  try {
    if (readHolder(lockPath) === stale) rmSync(lockPath, { force: true })
  } finally {
    rmdirSync(takeover)
  }
}

function clearAbandonedTakeover(takeover: string): void {
  try {
    if (Date.now() - statSync(takeover).mtimeMs > TAKEOVER_STALE_MS) rmdirSync(takeover)
  } catch {
    // Gone already, or removed by another process: either way there is nothing to clear.
  }
}

function inUse(dataDir: string, holder: number): StartupError {
  return new StartupError(
    `The embedded database in ${dataDir} is in use by process ${holder}. Stop that process first, ` +
      'or use the HTTP API of the running server (for keys: /v1/keys).',
  )
}

function readHolder(lockPath: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(lockPath, 'utf8'), 10)
    return Number.isFinite(pid) ? pid : undefined
  } catch {
    return undefined
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
