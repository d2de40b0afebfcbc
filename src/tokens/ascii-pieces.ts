import type { EncodingName } from './bpe-ranks.js'

/*
 * The pre-tokenisation patterns, evaluated by hand for ASCII text. Running the regular expression was
 * half the cost of counting ordinary text once pieces are cached. Each function below returns where the
 * pattern's match starting at `start` ends, exactly as the pattern's alternatives would (first matching
 * alternative, greedy, with the same backtracking), or -1 as soon as it would have to classify a
 * non-ASCII character; the caller then runs the real pattern from `start`. So the patterns stay the
 * authority, and this is only a shortcut for the characters it is sure about.
 *
 * cl100k_base: 's|'t|'re|'ve|'m|'ll|'d (either case) | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N}{1,3}
 *              | ' ?[^\s\p{L}\p{N}]+[\r\n]*' | \s*[\r\n]+ | \s+(?!\S) | \s+
 * o200k_base:  [^\r\n\p{L}\p{N}]?[upper]*[lower]+(contraction)? | [^\r\n\p{L}\p{N}]?[upper]+[lower]*(contraction)?
 *              | \p{N}{1,3} | ' ?[^\s\p{L}\p{N}]+[\r\n/]*' | \s*[\r\n]+ | \s+(?!\S) | \s+
 * In ASCII, [upper] is A–Z, [lower] is a–z, \s is space, \t, \n, \v, \f, \r.
 */

export type PieceEnd = (text: string, start: number, end: number) => number

const UPPER = 1
const LOWER = 2
const LETTER = UPPER | LOWER
const DIGIT = 4
const SPACE = 8
const NEWLINE = 16
const OTHER = 32

const CLASS = new Uint8Array(128)
for (let c = 0; c < 128; c++) {
  const char = String.fromCharCode(c)
  if (c >= 65 && c <= 90) CLASS[c] = UPPER
  else if (c >= 97 && c <= 122) CLASS[c] = LOWER
  else if (c >= 48 && c <= 57) CLASS[c] = DIGIT
  else if (char === '\r' || char === '\n') CLASS[c] = SPACE | NEWLINE
  else if (/\s/.test(char)) CLASS[c] = SPACE
  else CLASS[c] = OTHER
}

/** Returned when the answer depends on a non-ASCII character: the caller runs the pattern instead. */
export const NON_ASCII = -1
// letterStart's answer when no letter piece starts here.
const NO_LETTERS = -2

/** Where a run of characters of `kind` starting at `from` ends; -1 if it reaches a non-ASCII character. */
function runEnd(text: string, from: number, end: number, kind: number): number {
  let at = from
  for (; at < end; at++) {
    const c = text.charCodeAt(at)
    if (c >= 128) return NON_ASCII
    if ((CLASS[c]! & kind) === 0) break
  }
  return at
}

/** Length of 's 't 're 've 'm 'll 'd (either case) at `at`, else 0. */
function contractionLength(text: string, at: number, end: number): number {
  if (at + 1 >= end || text.charCodeAt(at) !== 39) return 0
  const c1 = text.charCodeAt(at + 1) | 0x20
  if (c1 === 115 || c1 === 116 || c1 === 109 || c1 === 100) return 2 // s t m d
  if (at + 2 >= end) return 0
  const c2 = text.charCodeAt(at + 2) | 0x20
  if ((c1 === 114 || c1 === 118) && c2 === 101) return 3 // re ve
  if (c1 === 108 && c2 === 108) return 3 // ll
  return 0
}

/** Where a letter piece's letters begin: `start`, or `start + 1` after its one-character prefix. */
function letterStart(text: string, start: number, end: number, kind: number): number {
  if (kind & LETTER) return start
  if (kind & (DIGIT | NEWLINE) || start + 1 >= end) return NO_LETTERS
  const next = text.charCodeAt(start + 1)
  if (next >= 128) return NON_ASCII
  return CLASS[next]! & LETTER ? start + 1 : NO_LETTERS
}

// The alternatives both patterns share after their letter branches: digits, symbols, white space.
function digitsSymbolsSpaces(
  text: string,
  start: number,
  end: number,
  kind: number,
  trailsSlashes: boolean,
): number {
  if (kind & DIGIT) {
    const stop = Math.min(end, start + 3)
    return runEnd(text, start + 1, stop, DIGIT)
  }
  let from = start
  if (text.charCodeAt(start) === 32 && start + 1 < end) {
    const next = text.charCodeAt(start + 1)
    if (next >= 128) return NON_ASCII
    if (CLASS[next]! & OTHER) from = start + 1
  }
  if (CLASS[text.charCodeAt(from)]! & OTHER) {
    const symbols = runEnd(text, from, end, OTHER)
    if (symbols < 0) return NON_ASCII
    let at = symbols
    for (; at < end; at++) {
      const c = text.charCodeAt(at)
      if (c !== 10 && c !== 13 && (c !== 47 || !trailsSlashes)) break
    }
    return at
  }
  // White space: \s*[\r\n]+ ends after the run's last newline; else \s+(?!\S) leaves the last space
  // to the next piece when something follows; else \s+.
  let at = start
  let lastNewline = -1
  for (; at < end; at++) {
    const c = text.charCodeAt(at)
    if (c >= 128) return NON_ASCII
    const cls = CLASS[c]!
    if ((cls & SPACE) === 0) break
    if (cls & NEWLINE) lastNewline = at
  }
  if (lastNewline >= 0) return lastNewline + 1
  if (at === end || at - start === 1) return at
  return at - 1
}

function cl100kPieceEnd(text: string, start: number, end: number): number {
  const c = text.charCodeAt(start)
  if (c >= 128) return NON_ASCII
  const kind = CLASS[c]!
  if (c === 39) {
    const contraction = contractionLength(text, start, end)
    if (contraction > 0) return start + contraction
  }
  const letters = letterStart(text, start, end, kind)
  if (letters === NON_ASCII) return NON_ASCII
  if (letters >= 0) return runEnd(text, letters, end, LETTER)
  return digitsSymbolsSpaces(text, start, end, kind, false)
}

function o200kPieceEnd(text: string, start: number, end: number): number {
  const c = text.charCodeAt(start)
  if (c >= 128) return NON_ASCII
  const kind = CLASS[c]!
  const letters = letterStart(text, start, end, kind)
  if (letters === NON_ASCII) return NON_ASCII
  if (letters >= 0) {
    // [upper]*[lower]+ if any lowercase follows the capitals, else [upper]+; then an optional contraction.
    const capitals = runEnd(text, letters, end, UPPER)
    if (capitals < 0) return NON_ASCII
    const lowers = runEnd(text, capitals, end, LOWER)
    if (lowers < 0) return NON_ASCII
    return lowers + contractionLength(text, lowers, end)
  }
  return digitsSymbolsSpaces(text, start, end, kind, true)
}

export const ASCII_PIECE_END: Record<EncodingName, PieceEnd> = {
  cl100k_base: cl100kPieceEnd,
  o200k_base: o200kPieceEnd,
}
