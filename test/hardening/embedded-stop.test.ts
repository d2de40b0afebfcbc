import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { usingRealPostgres } from '../support/test-db.js'

type Step = { step: string; [key: string]: unknown }

/** Run the child for `mode` with its own deadline: a frozen child is killed and the test fails. */
async function runChild(mode: 'fault' | 'disk-full', dataDir: string, deadlineMs: number) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'support', 'embedded-stop-child.ts'), mode, dataDir],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  let err = ''
  child.stdout.on('data', (chunk) => {
    out += String(chunk)
  })
  child.stderr.on('data', (chunk) => {
    err += String(chunk)
  })
  const killer = setTimeout(() => child.kill('SIGKILL'), deadlineMs)
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  clearTimeout(killer)
  const steps = out
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Step)
  const step = (name: string) => steps.find((s) => s.step === name)
  return { code, steps, step, output: `${out}\n${err}` }
}

const dirs: string[] = []
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'onbrand-embedded-stop-'))
  dirs.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

// The embedded database only: with TEST_DATABASE_URL set the suite runs on PostgreSQL, which has no such module.
describe.skipIf(usingRealPostgres())(
  'the embedded database when its WebAssembly module stops',
  { timeout: 120_000 },
  () => {
    it('rejects queries with a 503-class error instead of freezing, reopens, and keeps every acknowledged row', async () => {
      const run = await runChild('fault', join(tempDir(), 'db'), 90_000)
      expect(run.code, run.output).toBe(0)
      expect(run.step('failed write')).toMatchObject({ ok: false, code: '57P02' })
      expect(run.step('failed write')!.ms as number).toBeLessThan(5000)
      expect(run.step('read while stopped')).toMatchObject({ ok: false, code: '57P02' })
      // Over HTTP: the database is not ready, and a request that needs it gets a problem+json 503.
      expect(run.step('collections before')).toMatchObject({ status: 200 })
      expect(run.step('readyz while stopped')).toMatchObject({ status: 503 })
      expect(run.step('collections while stopped')).toMatchObject({
        status: 503,
        type: 'application/problem+json',
      })
      expect(run.step('collections while stopped')!.body as string).not.toMatch(/Aborted|wasm/i)
      expect(run.step('reopened')).toMatchObject({ ok: true, acked: 20, missing: [], write: true })
      expect(run.step('readyz after')).toMatchObject({ status: 200 })
      expect(
        run.steps.some((s) => s.step === 'log' && s.message === 'the embedded database was reopened'),
      ).toBe(true)
      expect(run.step('closed')!.ms as number).toBeLessThan(5000)
    })
  },
)

/** A file system of its own to fill: a small tmpfs, which takes root (skipped elsewhere). */
function mountSmallFs(): string | undefined {
  if (process.getuid?.() !== 0) return undefined
  const dir = tempDir()
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=128m', 'tmpfs', dir], { stdio: 'ignore' })
    return dir
  } catch {
    return undefined
  }
}
const smallFs = usingRealPostgres() ? undefined : mountSmallFs()
afterAll(() => {
  if (smallFs) execFileSync('umount', ['-l', smallFs], { stdio: 'ignore' })
})

describe.runIf(smallFs)('the embedded database on a full disk (tmpfs, as root)', { timeout: 180_000 }, () => {
  it('stops answering writes with 57P02 instead of freezing, and comes back with every acknowledged row once space is freed', async () => {
    const run = await runChild('disk-full', join(smallFs!, 'db'), 150_000)
    expect(run.code, run.output).toBe(0)
    expect(run.step('disk filled')).toBeDefined()
    expect(run.step('failed write')).toMatchObject({ ok: false, code: '57P02' })
    expect(run.step('read while stopped')).toMatchObject({ ok: false })
    expect(run.step('reopened')).toMatchObject({ ok: true, missing: [], write: true })
    expect(run.step('closed')!.ms as number).toBeLessThan(5000)
  })
})
