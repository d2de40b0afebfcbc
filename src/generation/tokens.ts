import { Tiktoken } from 'js-tiktoken/lite'
import o200kBase from 'js-tiktoken/ranks/o200k_base'

let encoder: Tiktoken | undefined

/**
 * Tokens in `text` with o200k_base (the GPT-4o family). Other models tokenise differently; the packing
 * margin absorbs that. The encoder is built on first use, not at import.
 */
export function countTokens(text: string): number {
  encoder ??= new Tiktoken(o200kBase)
  return encoder.encode(text).length
}

/**
 * Every token is at least one UTF-8 byte, so a text of n bytes has at most n tokens: when the byte
 * count already fits, the exact count is not needed. That keeps tokenising off the hot path.
 */
export function tokensAtMost(text: string): number {
  return Buffer.byteLength(text, 'utf8')
}
