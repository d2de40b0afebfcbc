import { spawnSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Database } from '../../src/db/pool.js'
import { createTestDatabase } from '../support/test-db.js'

// On PostgreSQL the CLI gets a fresh database of this file's own; on PGlite its own data folder.
let db: (Database & { url?: string }) | undefined
const env: Record<string, string> = {}
beforeAll(async () => {
  if (process.env.TEST_DATABASE_URL) {
    db = await createTestDatabase({ migrate: false })
    env.DATABASE_URL = db.url ?? ''
  } else {
    env.DATA_DIR = join(mkdtempSync(join(tmpdir(), 'onbrand-keys-cli-')), 'db')
  }
})
afterAll(async () => db?.close())

function keys(...args: string[]) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/onbrand.ts', 'keys', ...args], {
    env: { ...process.env, ...env, LOG_LEVEL: 'warn' },
    encoding: 'utf8',
    timeout: 60_000,
  })
  return { status: result.status, out: `${result.stdout}${result.stderr}` }
}

// Each run starts a process (and, embedded, opens a database): slow on a busy machine.
describe('npm run keys -- create --rpm --tpm', { timeout: 120_000 }, () => {
  it('creates a key with its own limits and lists them', () => {
    const created = keys('create', '--name', 'batch app', '--scope', 'generate', '--rpm', '60', '--tpm', '0')
    expect(created.status, created.out).toBe(0)
    const id = /Created key ([a-z0-9]{12})/.exec(created.out)?.[1]
    expect(id).toBeDefined()
    const listed = keys('list')
    const line = listed.out.split('\n').find((l) => l.startsWith(id ?? '?'))
    expect(line).toContain('rpm=60')
    expect(line).toContain('tpm=unlimited')
  })

  it('refuses a limit that is not a whole number', () => {
    for (const bad of ['-1', '1.5', 'ten']) {
      // Refused before the database is opened, so these runs stay quick.
      const result = keys('create', '--name', 'x', '--scope', 'generate', `--rpm=${bad}`)
      expect(result.status).not.toBe(0)
      expect(result.out).toContain('--rpm must be a whole number')
    }
  })
})
