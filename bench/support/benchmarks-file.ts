import { existsSync, readFileSync, writeFileSync } from 'node:fs'

/**
 * The line that starts a section's hand-written notes. Everything from it to the end of the section is
 * kept when a run rewrites the section: what a person concluded from earlier runs survives the next one.
 */
export const NOTES_MARKER = '<!-- Notes below are written by hand; a benchmark run keeps them. -->'

/**
 * Replace the `## …` section of BENCHMARKS.md a benchmark owns (or append it), leaving the rest of the
 * file and the section's notes (NOTES_MARKER onwards) as they were. `body` may start with the heading.
 */
export function writeSection(path: string, heading: string, body: string): void {
  const current = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n'
  const text = (body.startsWith(`${heading}\n`) ? body : `${heading}\n\n${body}`).trimEnd()
  // The heading as a whole line, not the end of a longer one (`### Retrieval` for `## Retrieval`); with the
  // newline put in front, the match's index is where the heading starts in `current`.
  const start = `\n${current}`.indexOf(`\n${heading}\n`)
  if (start === -1) {
    writeFileSync(path, `${current.trimEnd()}\n\n${text}\n`)
    return
  }
  const next = current.indexOf('\n## ', start + heading.length)
  const old = current.slice(start, next === -1 ? current.length : next)
  const notesAt = old.indexOf(NOTES_MARKER)
  const notes = notesAt === -1 ? '' : `\n${old.slice(notesAt).trimEnd()}\n`
  writeFileSync(path, `${current.slice(0, start)}${text}\n${notes}${next === -1 ? '' : current.slice(next)}`)
}
