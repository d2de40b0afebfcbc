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
    const seen = readLock(lockPath)
    // Released (or taken over) meanwhile: try to create it again. Never remove a lock not seen: another
    // process may have created it since, and removing it would let two processes hold it.
    if (seen.state === 'absent') continue
    if (seen.state === 'pid' && seen.pid === process.pid) return release
    if (seen.state === 'pid' && isAlive(seen.pid)) throw inUse(dataDir, seen.pid)
    // Held by a dead process, or not a pid at all: take it over, then retry.
    removeStaleLock(lockPath, seen)
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

/** Remove the lock only if it is still the stale one seen (a dead holder, or garbage), one process at a time. */
function removeStaleLock(lockPath: string, stale: Exclude<LockState, { state: 'absent' }>): void {
  const takeover = `${lockPath}.takeover`
  try {
    mkdirSync(takeover)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    clearAbandonedTakeover(takeover)
    return // another process is taking over; the caller retries and finds its result
  }
  try {
    // Under the takeover nobody else removes the lock, and nobody creates one while it exists: if it is
    // still the one seen, it is still stale when removed.
    if (sameLock(readLock(lockPath), stale)) rmSync(lockPath, { force: true })
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

type LockState = { state: 'absent' } | { state: 'pid'; pid: number } | { state: 'garbage' }

/** What the lock file holds, read once: absent, a pid, or something else (unreadable counts as garbage). */
function readLock(lockPath: string): LockState {
  let text: string
  try {
    text = readFileSync(lockPath, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'absent' }
    return { state: 'garbage' }
  }
  const pid = Number.parseInt(text, 10)
  return Number.isFinite(pid) ? { state: 'pid', pid } : { state: 'garbage' }
}

function sameLock(a: LockState, b: LockState): boolean {
  if (a.state === 'pid' && b.state === 'pid') return a.pid === b.pid
  return a.state === b.state
}

function readHolder(lockPath: string): number | undefined {
  const seen = readLock(lockPath)
  return seen.state === 'pid' ? seen.pid : undefined
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
