import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { StartupError } from '../lib/startup-error.js'

/**
 * The embedded database belongs to one process at a time; a second one (say `npm run keys` while the
 * server runs) would corrupt it. A pid file beside the data folder turns that into a clear error.
 */
export function acquireDataDirLock(dataDir: string): () => void {
  const lockPath = `${resolve(dataDir)}.lock`
  mkdirSync(dirname(lockPath), { recursive: true })
  const holder = readHolder(lockPath)
  if (holder !== undefined && holder !== process.pid && isAlive(holder)) {
    throw new StartupError(
      `The embedded database in ${dataDir} is in use by process ${holder}. Stop that process first, ` +
        'or use the HTTP API of the running server (for keys: /v1/keys).',
    )
  }
  writeFileSync(lockPath, String(process.pid))
  return () => {
    if (readHolder(lockPath) === process.pid) rmSync(lockPath, { force: true })
  }
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
