import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { acquireDataDirLock } from '../../src/db/data-dir-lock.js'

// One contender of test/foundation/data-dir-lock.test.ts: for each round, it says it is ready, waits
// for the round's start file, tries the round's lock at once with the others, reports, and holds what
// it got until the round's end file appears. Spinning (not sleeping) keeps the contenders in step.
const [base, roundsArg] = process.argv.slice(2)
const rounds = Number(roundsArg)

function waitFor(path: string): void {
  while (!existsSync(path)) {
    // spin
  }
}

for (let round = 0; round < rounds; round++) {
  process.stdout.write(`ready ${round}\n`)
  waitFor(join(base!, `go-${round}`))
  let release: (() => void) | undefined
  try {
    release = acquireDataDirLock(join(base!, `data-${round}`))
    process.stdout.write(`${round} acquired\n`)
  } catch {
    process.stdout.write(`${round} refused\n`)
  }
  waitFor(join(base!, `end-${round}`))
  release?.()
}
