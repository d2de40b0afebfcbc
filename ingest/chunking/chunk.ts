import { createHash } from 'node:crypto'
import { countTokens } from './tokenizer.js'

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
    tokenCount: countTokens(embeddingText),
    contentHash: sha256(embeddingText),
  }
}
