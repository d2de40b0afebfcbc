import {
  countTokens as bpeCount,
  countTokensAsync as bpeCountAsync,
  type EncodingName,
  type SliceOptions,
} from './bpe.js'

/** The byte-pair encodings Onbrand counts tokens with: OpenAI's two current ones. */
export type Encoding = EncodingName

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

/**
 * Tokens in `text` under `encoding`, exactly as OpenAI's tokenizer counts them (bpe.ts: js-tiktoken's ids,
 * in time linear in the text, with one bounded piece cache per encoding). Special-token strings such as
 * <|endoftext|> count as the plain text they are. Synchronous: for texts up to a few hundred KB.
 */
export function countTokens(text: string, encoding: Encoding): number {
  return text === '' ? 0 : bpeCount(text, encoding)
}

/** countTokens in slices that yield to the event loop: for request bodies and files of any size. */
export function countTokensAsync(text: string, encoding: Encoding, options?: SliceOptions): Promise<number> {
  return text === '' ? Promise.resolve(0) : bpeCountAsync(text, encoding, options)
}

/**
 * Every token is at least one UTF-8 byte, so a text of n bytes has at most n tokens under any of these
 * encodings: when the byte count already fits, the exact count is not needed. That keeps tokenising
 * off the hot path.
 */
export function tokensAtMost(text: string): number {
  return Buffer.byteLength(text, 'utf8')
}
