import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { runCommand } from '../../src/cli/run-command.js'
import { openDatabase } from '../../src/db/pool.js'
import { StartupError } from '../../src/lib/startup-error.js'
import { usingRealPostgres } from '../support/test-db.js'

// DATA_DIR is where the embedded database lives; a PostgreSQL run has nothing more to check here.
describe.skipIf(usingRealPostgres())('the embedded data folder (DATA_DIR)', { timeout: 300_000 }, () => {
  const work = mkdtempSync(join(tmpdir(), 'onbrand-data-dir-'))

  it('may be a symbolic link to a folder: the database opens in the folder it points to', async () => {
    const real = join(work, 'real')
    mkdirSync(real)
    const link = join(work, 'link')
    symlinkSync(real, link)
    const db = await openDatabase({ dataDir: link, poolSize: 1 })
    try {
      const { rows } = await db.pool.query<{ one: number }>('SELECT 1 AS one')
      expect(rows[0]?.one).toBe(1)
    } finally {
      await db.close()
    }
    expect(existsSync(join(real, 'PG_VERSION'))).toBe(true)
  })

  it('that names a file, or a link to nothing, fails with a message saying so', async () => {
    const file = join(work, 'a-file')
    writeFileSync(file, 'not a folder')
    await expect(openDatabase({ dataDir: file, poolSize: 1 })).rejects.toThrow(
      new StartupError(
        `DATA_DIR ${file} is not a folder (a file, or a symbolic link to something missing); point it at a folder.`,
      ),
    )
    const dangling = join(work, 'dangling')
    symlinkSync(join(work, 'missing'), dangling)
    await expect(openDatabase({ dataDir: dangling, poolSize: 1 })).rejects.toThrow(/is not a folder/)
  })
})

describe('a command that fails', () => {
  afterEach(() => vi.restoreAllMocks())

  it('prints what it threw readably even when that is not an Error', async () => {
    const written: string[] = []
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      written.push(String(chunk))
      return true
    })
    const thrower = {
      name: 'boom',
      summary: 'throws a plain object',
      load: async () => ({
        usage: 'boom',
        run: async () => {
          throw { name: 'ErrnoError', errno: 44 }
        },
      }),
    }
    expect(await runCommand([thrower], ['boom'])).toBe(1)
    expect(written.join('')).not.toContain('[object Object]')
    expect(written.join('')).toMatch(/ErrnoError[\s\S]*errno: 44/)
  })
})
