import { countTokens } from '../../src/tokens/tokenizer.js'
import { CHUNK_ENCODING } from './chunk.js'

/**
 * Split text longer than `maxTokens` into windows of at most `maxTokens`, each starting with the last
 * `overlapTokens` of the previous one. Cuts fall between words (sentences when possible), never inside
 * a multi-byte character as raw token windows would.
 */
export function splitByTokens(text: string, maxTokens: number, overlapTokens: number): string[] {
  if (countTokens(text, CHUNK_ENCODING) <= maxTokens) return [text]
  const pieces = splitIntoPieces(text, maxTokens)
  const sizes = pieces.map((piece) => countTokens(piece, CHUNK_ENCODING))
  const windows: string[] = []
  let start = 0
  while (start < pieces.length) {
    let end = start
    let total = 0
    while (end < pieces.length && (end === start || total + sizes[end]! <= maxTokens)) {
      total += sizes[end]!
      end++
    }
    windows.push(pieces.slice(start, end).join('').trim())
    if (end >= pieces.length) break
    // Step back over whole pieces until the overlap is covered, but always move forward.
    let next = end
    let overlap = 0
    while (next - 1 > start && overlap + sizes[next - 1]! <= overlapTokens) {
      next--
      overlap += sizes[next]!
    }
    start = next
  }
  return windows.filter((window) => window !== '')
}

/** Sentences, falling back to words, falling back to characters for pathological runs. */
function splitIntoPieces(text: string, maxTokens: number): string[] {
  const out: string[] = []
  for (const sentence of splitSentences(text)) {
    if (countTokens(sentence, CHUNK_ENCODING) <= maxTokens / 4) {
      out.push(sentence)
      continue
    }
    for (const word of splitWords(sentence)) {
      if (countTokens(word, CHUNK_ENCODING) <= maxTokens / 2) out.push(word)
      else out.push(...hardSplit(word, maxTokens))
    }
  }
  return out
}

/**
 * Cut after a sentence end (`.`, `!` or `?` followed by white space) or a line break, keeping the white
 * space that follows with the piece before it. One pass: the regex this replaces,
 * `/(?<=[.!?]\s+|\n)/`, looked back over the whole white-space run at every position (40,000 spaces
 * took 5.7 s) and cut such a run into one piece per space.
 */
export function splitSentences(text: string): string[] {
  const out: string[] = []
  let start = 0
  let i = 0
  while (i < text.length) {
    const code = text.charCodeAt(i)
    const ends = code === 0x2e || code === 0x21 || code === 0x3f
    if (ends || code === 0x0a) {
      let j = i + 1
      while (j < text.length && isSpace(text.charCodeAt(j))) j++
      if (code === 0x0a || j > i + 1) {
        if (j < text.length) {
          out.push(text.slice(start, j))
          start = j
        }
        i = j
        continue
      }
    }
    i++
  }
  if (start < text.length) out.push(text.slice(start))
  return out
}

/** Words, each with the white space after it; a run of white space stays one piece. */
export function splitWords(text: string): string[] {
  const out: string[] = []
  let start = 0
  let i = 0
  while (i < text.length) {
    if (!isSpace(text.charCodeAt(i))) {
      i++
      continue
    }
    while (i < text.length && isSpace(text.charCodeAt(i))) i++
    out.push(text.slice(start, i))
    start = i
  }
  if (start < text.length) out.push(text.slice(start))
  return out
}

// The characters of the regex class \s.
function isSpace(code: number): boolean {
  return (
    (code >= 0x09 && code <= 0x0d) ||
    code === 0x20 ||
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000 ||
    code === 0xfeff
  )
}

function hardSplit(word: string, maxTokens: number): string[] {
  // A token is rarely under one character; quarter-size slices always fit.
  const size = Math.max(1, Math.floor(maxTokens / 4))
  const chars = Array.from(word)
  const out: string[] = []
  for (let i = 0; i < chars.length; i += size) out.push(chars.slice(i, i + size).join(''))
  return out
}
