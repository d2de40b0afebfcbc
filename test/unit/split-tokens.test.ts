import { describe, expect, it } from 'vitest'
import { splitByTokens, splitSentences, splitWords } from '../../ingest/chunking/split-tokens.js'

describe('cutting long text between sentences and words', () => {
  it('cuts after a sentence end or a line break and keeps the white space after it with the sentence', () => {
    expect(splitSentences('One.   Two!\n\nThree? Four.Five\nSix')).toEqual([
      'One.   ',
      'Two!\n\n',
      'Three? ',
      'Four.Five\n',
      'Six',
    ])
  })

  it('keeps a run of 40,000 spaces after a sentence as one piece instead of one piece per space', () => {
    const pieces = splitSentences(`First. ${' '.repeat(40_000)}Second.`)
    expect(pieces).toEqual([`First. ${' '.repeat(40_000)}`, 'Second.'])
    expect(splitWords(`a${' '.repeat(40_000)}b c`)).toEqual([`a${' '.repeat(40_000)}`, 'b ', 'c'])
  })

  it('still cuts text with long white-space runs into windows that keep every word', () => {
    const text = `First sentence here. ${' '.repeat(40_000)}Second one follows. ${'word '.repeat(600)}`
    const windows = splitByTokens(text, 200, 20)
    expect(windows.length).toBeGreaterThan(2)
    expect(windows[0]).toMatch(/^First sentence here\./)
    expect(
      windows
        .join(' ')
        .split(/\s+/)
        .filter((w) => w === 'word').length,
    ).toBeGreaterThanOrEqual(600)
  })
})
