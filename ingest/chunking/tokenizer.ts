import { Tiktoken } from 'js-tiktoken/lite'
import cl100k from 'js-tiktoken/ranks/cl100k_base'

// cl100k_base is the tokenizer of OpenAI's embedding models; for other providers it is a close,
// deterministic estimate, which is all chunk sizing needs.
let encoder: Tiktoken | undefined

function getEncoder(): Tiktoken {
  encoder ??= new Tiktoken(cl100k)
  return encoder
}

// The tokenizer first splits text with this pattern, then byte-pair merges each piece on its own, so a
// text's count is the sum of its pieces' counts. Pieces are mostly words and recur across texts, and
// chunking counts the same text more than once (to decide whether it fits, then for the stored
// count), so counts are cached per piece: only new pieces pay for the merge.
const PIECES = new RegExp(cl100k.pat_str, 'gu')
const MAX_CACHED_PIECES = 200_000
const pieceCounts = new Map<string, number>()

export function countTokens(text: string): number {
  if (text === '') return 0
  let total = 0
  for (const [piece] of text.matchAll(PIECES)) total += countPiece(piece)
  return total
}

function countPiece(piece: string): number {
  const cached = pieceCounts.get(piece)
  if (cached !== undefined) return cached
  // Special-token strings such as <|endoftext|> never survive the split whole, so a text quoting one
  // is counted as the plain text it is.
  const count = getEncoder().encode(piece).length
  if (pieceCounts.size >= MAX_CACHED_PIECES) pieceCounts.clear()
  pieceCounts.set(piece, count)
  return count
}
