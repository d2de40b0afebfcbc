/**
 * Build the web console: compile console/src (TypeScript, Preact JSX) to browser modules in
 * dist/console/app and copy console/static beside them. `npm run build` and `npm run build:console` run
 * it; `npm start` and the test suite run it with --if-stale, which does nothing when the output is newer
 * than every source. The server serves whatever is in dist/console (src/http/routes/console).
 */
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const SOURCES = ['console/src', 'console/static', 'console/tsconfig.json', 'package-lock.json']
const OUT = join(ROOT, 'dist', 'console')
const STAMP = join(OUT, '.built')

function newestMtime(path: string): number {
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs
  return readdirSync(path).reduce(
    (newest, name) => Math.max(newest, newestMtime(join(path, name))),
    stat.mtimeMs,
  )
}

function isStale(): boolean {
  if (!existsSync(STAMP)) return true
  const built = statSync(STAMP).mtimeMs
  return SOURCES.some((source) => newestMtime(join(ROOT, source)) > built)
}

/** Compile and copy; throws with the compiler's output when the console does not type-check. */
export function buildConsole(options: { ifStale?: boolean } = {}): { built: boolean } {
  if (options.ifStale && !isStale()) return { built: false }
  rmSync(OUT, { recursive: true, force: true })
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
  const result = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'console', 'tsconfig.json')], {
    cwd: ROOT,
    encoding: 'utf8',
  })
  if (result.status !== 0) {
    throw new Error(`the console does not compile:\n${result.stdout}${result.stderr}`)
  }
  mkdirSync(OUT, { recursive: true })
  cpSync(join(ROOT, 'console', 'static'), OUT, { recursive: true })
  writeFileSync(STAMP, `${new Date().toISOString()}\n`)
  return { built: true }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const { built } = buildConsole({ ifStale: process.argv.includes('--if-stale') })
    process.stdout.write(built ? 'console built in dist/console\n' : 'console up to date\n')
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  }
}
