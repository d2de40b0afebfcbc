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
  for (const sentence of text.split(/(?<=[.!?]\s+|\n)/)) {
    if (countTokens(sentence, CHUNK_ENCODING) <= maxTokens / 4) {
      out.push(sentence)
      continue
    }
    for (const word of sentence.split(/(?<=\s)/)) {
      if (countTokens(word, CHUNK_ENCODING) <= maxTokens / 2) out.push(word)
      else out.push(...hardSplit(word, maxTokens))
    }
  }
  return out
}

function hardSplit(word: string, maxTokens: number): string[] {
  // A token is rarely under one character; quarter-size slices always fit.
  const size = Math.max(1, Math.floor(maxTokens / 4))
  const chars = Array.from(word)
  const out: string[] = []
  for (let i = 0; i < chars.length; i += size) out.push(chars.slice(i, i + size).join(''))
  return out
}
