/** Seeded text generators for the tokenizer's tests and benchmark: the same seed gives the same text. */
import { seededRandom } from '../../bench/retrieval-data.js'

export type Random = () => number

export { seededRandom }

function fromAlphabet(alphabet: string, length: number, random: Random): string {
  const chars = [...alphabet]
  let out = ''
  for (let i = 0; i < length; i++) out += chars[Math.floor(random() * chars.length)]!
  return out
}

/** One unbroken word of `length` lowercase and uppercase letters: a single piece for both encodings. */
export function letterRun(length: number, seed = 1): string {
  return fromAlphabet(
    'abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ',
    length,
    seededRandom(seed),
  )
}

/** Lowercase only: o200k's pattern splits a word at lowercase-to-uppercase changes, so this stays one piece there too. */
export function lowercaseRun(length: number, seed = 1): string {
  return fromAlphabet('abcdefghijklmnopqrstuvwxyz', length, seededRandom(seed))
}

/** CJK ideographs (3 UTF-8 bytes each) from the common block: one piece in both encodings. */
export function cjkRun(chars: number, seed = 2): string {
  const random = seededRandom(seed)
  let out = ''
  for (let i = 0; i < chars; i++) out += String.fromCharCode(0x4e00 + Math.floor(random() * 0x5000))
  return out
}

/** Symbols with no letters, digits or spaces: one piece by the pattern's punctuation branch. */
export function symbolRun(length: number, seed = 3): string {
  return fromAlphabet('!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~', length, seededRandom(seed))
}

// Code point ranges a fuzzed string draws from, each as likely as the others.
const FUZZ_RANGES: readonly (readonly [number, number])[] = [
  [0x20, 0x7e], // ASCII printable
  [0x61, 0x7a], // more ASCII letters, so words form
  [0x30, 0x39], // digits
  [0x09, 0x0d], // tab, newlines, vertical tab, form feed, carriage return
  [0x20, 0x20], // space
  [0x00, 0x1f], // controls
  [0xa0, 0x17f], // Latin-1 and Latin Extended-A
  [0x300, 0x36f], // combining marks
  [0x391, 0x3c9], // Greek
  [0x400, 0x4ff], // Cyrillic
  [0x5d0, 0x5ea], // Hebrew
  [0x620, 0x64a], // Arabic
  [0x900, 0x97f], // Devanagari
  [0x3040, 0x30ff], // Hiragana, Katakana
  [0x4e00, 0x9fff], // CJK
  [0xac00, 0xd7a3], // Hangul
  [0x2000, 0x206f], // general punctuation: odd spaces, zero-width joiners
  [0xd800, 0xdfff], // lone surrogates (TextEncoder writes U+FFFD)
  [0xff01, 0xff5e], // full-width forms
  [0x1f300, 0x1faff], // emoji
  [0x1d400, 0x1d7ff], // mathematical letters (astral)
  [0xfe00, 0xfe0f], // variation selectors
]

/** A random string of up to `maxLength` code points across scripts, spaces, marks and surrogates. */
export function fuzzString(random: Random, maxLength: number): string {
  const length = Math.floor(random() * (maxLength + 1))
  let out = ''
  // Runs of one range, so words, runs of spaces and runs of one script occur, not only noise.
  while (out.length < length) {
    const [low, high] = FUZZ_RANGES[Math.floor(random() * FUZZ_RANGES.length)]!
    const run = 1 + Math.floor(random() * 12)
    for (let i = 0; i < run; i++) out += String.fromCodePoint(low + Math.floor(random() * (high - low + 1)))
  }
  return out
}
