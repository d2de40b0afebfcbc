import cl100k from 'js-tiktoken/ranks/cl100k_base'
import o200k from 'js-tiktoken/ranks/o200k_base'
import { describe, expect, it } from 'vitest'
import { ASCII_PIECE_END, NON_ASCII } from '../../src/tokens/ascii-pieces.js'
import { ENCODING_NAMES } from '../../src/tokens/bpe.js'
import { seededRandom } from './hostile-text.js'

const PATTERNS = { cl100k_base: cl100k.pat_str, o200k_base: o200k.pat_str }

// Every class the patterns tell apart: lower and upper letters (the contraction letters among them),
// digits, each kind of ASCII space, symbols including ' and /, controls, and non-ASCII letters, marks,
// digits, spaces, symbols and a lone surrogate, which the hand-written scan must hand to the pattern.
const ASCII = [
  'a',
  's',
  't',
  'r',
  'e',
  'v',
  'l',
  'm',
  'd',
  'A',
  'S',
  'E',
  'L',
  '1',
  ' ',
  '\t',
  '\n',
  '\r',
  '\f',
]
const MORE_ASCII = ["'", '!', '/', '"', '\u0000', '\u007f']
const NON_ASCII_CHARS = ['é', 'É', '中', '\u0301', '\u00a0', '\u2028', '١', '—', '\ud83d']
const ALPHABET = [...ASCII, ...MORE_ASCII, ...NON_ASCII_CHARS]
const SMALL = ['a', 'A', 's', "'", '1', ' ', '\n', '\r', '\t', '!', '/', 'é', '\u00a0']

function* stringsOf(alphabet: readonly string[], length: number): Generator<string> {
  if (length === 0) {
    yield ''
    return
  }
  for (const head of stringsOf(alphabet, length - 1)) for (const char of alphabet) yield head + char
}

describe.each(ENCODING_NAMES)('%s ASCII scan', (encoding) => {
  const pieceEnd = ASCII_PIECE_END[encoding]
  const sticky = new RegExp(PATTERNS[encoding], 'uy')

  /** Problems with one string: where the scan's piece differs from the pattern's. */
  function check(text: string, problems: string[]): { fallbacks: number } {
    let fallbacks = 0
    for (let at = 0; at < text.length; ) {
      sticky.lastIndex = at
      const match = sticky.exec(text)
      if (match === null) {
        problems.push(`${JSON.stringify(text)}: the pattern matches nothing at ${at}`)
        return { fallbacks }
      }
      const expected = at + match[0].length
      const end = pieceEnd(text, at, text.length)
      if (end === NON_ASCII) {
        // Handing over to the pattern is always correct; it is only needed where non-ASCII text follows.
        fallbacks++
        if (/^[\0-\x7f]*$/.test(text.slice(at)))
          problems.push(`${JSON.stringify(text)}: handed over at ${at}`)
      } else if (end !== expected) {
        problems.push(`${JSON.stringify(text)} at ${at}: scan ends at ${end}, the pattern at ${expected}`)
      }
      at = expected
    }
    return { fallbacks }
  }

  it('splits every string of up to 3 characters over a 34-character alphabet as the pattern does', () => {
    const problems: string[] = []
    for (let length = 1; length <= 3; length++)
      for (const text of stringsOf(ALPHABET, length)) check(text, problems)
    expect(problems.slice(0, 20)).toEqual([])
  })

  it('splits every string of 4 and 5 characters over a 13-character alphabet as the pattern does', () => {
    const problems: string[] = []
    for (const length of [4, 5]) for (const text of stringsOf(SMALL, length)) check(text, problems)
    expect(problems.slice(0, 20)).toEqual([])
  })

  it('splits 50,000 random strings as the pattern does and handles pure ASCII without the pattern', () => {
    const random = seededRandom(encoding === 'cl100k_base' ? 41 : 42)
    const problems: string[] = []
    let asciiFallbacks = 0
    for (let i = 0; i < 50_000; i++) {
      const alphabet = i % 2 === 0 ? ALPHABET : [...ASCII, ...MORE_ASCII]
      const length = 1 + Math.floor(random() * 24)
      let text = ''
      for (let j = 0; j < length; j++) text += alphabet[Math.floor(random() * alphabet.length)]
      const { fallbacks } = check(text, problems)
      if (i % 2 === 1) asciiFallbacks += fallbacks
    }
    expect(problems.slice(0, 20)).toEqual([])
    expect(asciiFallbacks).toBe(0)
  })
})
