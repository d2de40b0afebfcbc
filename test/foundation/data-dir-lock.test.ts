import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { acquireDataDirLock } from '../../src/db/data-dir-lock.js'

const base = mkdtempSync(join(tmpdir(), 'onbrand-lock-'))
afterAll(() => rmSync(base, { recursive: true, force: true }))

/** A pid that no process holds: one of a child that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'])
  await new Promise((resolve) => child.on('exit', resolve))
  return child.pid!
}

describe('the embedded data-directory lock', () => {
  it('holds our pid while held and is free again after release', () => {
    const dir = join(base, 'single')
    const release = acquireDataDirLock(dir)
    expect(readFileSync(`${dir}.lock`, 'utf8')).toBe(String(process.pid))
    release()
    const again = acquireDataDirLock(dir)
    again()
  })

  it('takes over a lock left by a dead process', async () => {
    const dir = join(base, 'stale')
    writeFileSync(`${dir}.lock`, String(await deadPid()))
    const release = acquireDataDirLock(dir)
    expect(readFileSync(`${dir}.lock`, 'utf8')).toBe(String(process.pid))
    release()
  })

  it('goes to exactly one of many processes trying at the same moment, fresh or stale', async () => {
    const contenders = 8
    const rounds = 12
    const dir = mkdtempSync(join(base, 'race-'))
    const lines: string[][] = []
    const children: ChildProcess[] = []
    for (let i = 0; i < contenders; i++) {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'test/support/data-dir-lock-racer.ts', dir, String(rounds)],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      )
      const out: string[] = []
      lines.push(out)
      let buffer = ''
      child.stdout!.on('data', (chunk: Buffer) => {
        buffer += chunk.toString()
        const parts = buffer.split('\n')
        buffer = parts.pop()!
        out.push(...parts)
      })
      children.push(child)
    }
    const until = async (done: () => boolean) => {
      while (!done()) await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const winners: number[] = []
    try {
      for (let round = 0; round < rounds; round++) {
        await until(() => lines.every((out) => out.includes(`ready ${round}`)))
        // Odd rounds start from a lock left by a dead process: every contender sees it stale at once.
        if (round % 2 === 1) writeFileSync(join(dir, `data-${round}.lock`), String(await deadPid()))
        writeFileSync(join(dir, `go-${round}`), '')
        const results = () => lines.map((out) => out.find((l) => l.startsWith(`${round} `)))
        await until(() => results().every((r) => r !== undefined))
        winners.push(results().filter((r) => r === `${round} acquired`).length)
        writeFileSync(join(dir, `end-${round}`), '')
      }
    } finally {
      for (const child of children) child.kill()
    }
    expect(winners).toEqual(Array.from({ length: rounds }, () => 1))
  }, 240_000)
})
