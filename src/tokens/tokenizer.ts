import { Tiktoken, type TiktokenBPE } from 'js-tiktoken/lite'
import cl100kBase from 'js-tiktoken/ranks/cl100k_base'
import o200kBase from 'js-tiktoken/ranks/o200k_base'

/** The byte-pair encodings Onbrand counts tokens with: OpenAI's two current ones. */
export type Encoding = 'cl100k_base' | 'o200k_base'

const RANKS: Record<Encoding, TiktokenBPE> = { cl100k_base: cl100kBase, o200k_base: o200kBase }

// Model id prefixes, as OpenAI's tiktoken maps them; the first match wins, so longer prefixes go first.
const PREFIXES: [string, Encoding][] = [
  ['gpt-4o', 'o200k_base'],
  ['chatgpt-4o', 'o200k_base'],
  ['gpt-4.1', 'o200k_base'],
  ['gpt-4.5', 'o200k_base'],
  ['gpt-5', 'o200k_base'],
  ['gpt-oss', 'o200k_base'],
  ['o1', 'o200k_base'],
  ['o3', 'o200k_base'],
  ['o4', 'o200k_base'],
  ['gpt-4', 'cl100k_base'],
  ['gpt-3.5', 'cl100k_base'],
  ['gpt-35', 'cl100k_base'],
  ['text-embedding-3', 'cl100k_base'],
  ['text-embedding-ada-002', 'cl100k_base'],
]

/**
 * The encoding of a model, by its id (`ft:<base>:…` fine-tunes count as their base model). Models of
 * other providers (Llama, Mistral, …) tokenise differently and are not known here; o200k_base is the
 * estimate for them, and the prompt packing margin absorbs the difference.
 */
export function encodingForModel(modelId: string): Encoding {
  const base = modelId.startsWith('ft:') ? modelId.slice(3) : modelId
  return PREFIXES.find(([prefix]) => base.startsWith(prefix))?.[1] ?? 'o200k_base'
}

interface Counter {
  encoder: Tiktoken
  pieces: RegExp
}

const counters = new Map<Encoding, Counter>()

// Built on first use, not at import: a process that never counts with an encoding never pays for it.
function counterFor(encoding: Encoding): Counter {
  let counter = counters.get(encoding)
  if (!counter) {
    const ranks = RANKS[encoding]
    counter = { encoder: new Tiktoken(ranks), pieces: new RegExp(ranks.pat_str, 'gu') }
    counters.set(encoding, counter)
  }
  return counter
}

// The tokenizer first splits text with its encoding's pattern, then byte-pair merges each piece on its
// own, so a text's count is the sum of its pieces' counts. Pieces are mostly words and recur across
// texts, and callers count the same text more than once (to decide whether it fits, then for the
// stored count), so counts are cached per piece: only new pieces pay for the merge. One cache for every
// encoding, bounded as a whole.
const MAX_CACHED_PIECES = 200_000
const cache = new Map<Encoding, Map<string, number>>()
let cached = 0

/** Tokens in `text` under `encoding`, exactly as OpenAI's tokenizer counts them. */
export function countTokens(text: string, encoding: Encoding): number {
  if (text === '') return 0
  const { encoder, pieces } = counterFor(encoding)
  let counts = cache.get(encoding)
  if (!counts) {
    counts = new Map()
    cache.set(encoding, counts)
  }
  let total = 0
  for (const [piece] of text.matchAll(pieces)) {
    let count = counts.get(piece)
    if (count === undefined) {
      // Special-token strings such as <|endoftext|> never survive the split whole, so a text quoting
      // one is counted as the plain text it is (encode() on the whole text would throw instead).
      count = encoder.encode(piece).length
      if (cached >= MAX_CACHED_PIECES) {
        for (const map of cache.values()) map.clear()
        cached = 0
      }
      counts.set(piece, count)
      cached += 1
    }
    total += count
  }
  return total
}

/**
 * Every token is at least one UTF-8 byte, so a text of n bytes has at most n tokens under any of these
 * encodings: when the byte count already fits, the exact count is not needed. That keeps tokenising
 * off the hot path.
 */
export function tokensAtMost(text: string): number {
  return Buffer.byteLength(text, 'utf8')
}
