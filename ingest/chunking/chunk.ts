import { createHash } from 'node:crypto'
import { countTokens, type Encoding } from '../../src/tokens/tokenizer.js'

export interface ChunkOptions {
  maxTokens: number
  overlapTokens: number
}

/** One chunk as stored: the text embedded is the heading path and the body, and its hash is the reuse key. */
export interface ChunkDraft {
  ordinal: number
  headingPath: string
  text: string
  /** Exactly what is sent to the embedding model. */
  embeddingText: string
  tokenCount: number
  contentHash: string
}

export const HEADING_SEPARATOR = ' > '

/**
 * Chunk sizes (CHUNK_MAX_TOKENS, CHUNK_OVERLAP_TOKENS) are counted in cl100k_base, the encoding of
 * OpenAI's embedding models; for other providers' embedding models it is a close, deterministic
 * estimate, which is all chunk sizing needs.
 */
export const CHUNK_ENCODING: Encoding = 'cl100k_base'

export function embeddingTextOf(headingPath: string, text: string): string {
  return headingPath === '' ? text : `${headingPath}\n\n${text}`
}

export function sha256(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex')
}

export function makeChunk(ordinal: number, headingPath: string, text: string): ChunkDraft {
  const embeddingText = embeddingTextOf(headingPath, text)
  return {
    ordinal,
    headingPath,
    text,
    embeddingText,
    tokenCount: countTokens(embeddingText, CHUNK_ENCODING),
    contentHash: sha256(embeddingText),
  }
}
