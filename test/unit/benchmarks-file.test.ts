import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { NOTES_MARKER, writeSection } from '../../bench/support/benchmarks-file.js'

const fileWith = (text: string) => {
  const path = join(mkdtempSync(join(tmpdir(), 'benchmarks-')), 'BENCHMARKS.md')
  writeFileSync(path, text)
  return path
}

describe('writeSection (bench results in BENCHMARKS.md)', () => {
  it('replaces only its own section, and appends it when missing', () => {
    const path = fileWith('# Benchmarks\n\n## A\n\nold a\n\n## B\n\nold b\n')
    writeSection(path, '## A', 'new a\n')
    writeSection(path, '## C', '## C\n\nnew c')
    expect(readFileSync(path, 'utf8')).toBe(
      '# Benchmarks\n\n## A\n\nnew a\n\n## B\n\nold b\n\n## C\n\nnew c\n',
    )
  })

  it('keeps the hand-written notes of the section it rewrites, and no one else’s', () => {
    const path = fileWith(
      `# Benchmarks\n\n## A\n\nold table\n\n${NOTES_MARKER}\nWhat the runs say.\n\n## B\n\nold b\n\n${NOTES_MARKER}\nB's notes.\n`,
    )
    writeSection(path, '## A', 'new table\n')
    writeSection(path, '## B', 'new b\n')
    expect(readFileSync(path, 'utf8')).toBe(
      `# Benchmarks\n\n## A\n\nnew table\n\n${NOTES_MARKER}\nWhat the runs say.\n\n## B\n\nnew b\n\n${NOTES_MARKER}\nB's notes.\n`,
    )
  })

  it('finds its heading only as a whole line, and rewrites a last section that has no notes', () => {
    const path = fileWith('# Benchmarks\n\n## A\n\n### R\n\nsub\n\n## R quality\n\nq\n\n## R\n\nold r\n')
    writeSection(path, '## R', 'new r')
    expect(readFileSync(path, 'utf8')).toBe(
      '# Benchmarks\n\n## A\n\n### R\n\nsub\n\n## R quality\n\nq\n\n## R\n\nnew r\n',
    )
  })
})
