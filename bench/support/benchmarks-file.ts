import { existsSync, readFileSync, writeFileSync } from 'node:fs'

/** Replace the `## …` section of BENCHMARKS.md a benchmark owns (or append it), leaving the rest. */
export function writeSection(path: string, heading: string, body: string): void {
  const current = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n'
  const block = `${heading}\n\n${body.trimEnd()}\n`
  const start = current.indexOf(`${heading}\n`)
  if (start === -1) {
    writeFileSync(path, `${current.trimEnd()}\n\n${block}`)
    return
  }
  const next = current.indexOf('\n## ', start + heading.length)
  writeFileSync(path, current.slice(0, start) + block + (next === -1 ? '' : current.slice(next)))
}
