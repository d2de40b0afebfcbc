import { countTokens } from '../../src/tokens/tokenizer.js'
import type { LoadedDocument, LoadOptions } from '../loaders/types.js'
import { CHUNK_ENCODING, type ChunkDraft, type ChunkOptions, makeChunk, sha256 } from './chunk.js'
import { chunkGuideline, chunkPlainText } from './chunk-guideline.js'
import { splitByTokens } from './split-tokens.js'

// Bump when chunking changes in a way that should re-chunk stored documents.
const CHUNKER_VERSION = 2

/**
 * Guidelines by structure; a product is one chunk (its title as heading path) while its embedded text
 * fits `maxTokens`, else it is cut by tokens.
 */
export function chunkDocument(doc: LoadedDocument, options: ChunkOptions): ChunkDraft[] {
  if (doc.kind === 'guideline') {
    return doc.plain
      ? chunkPlainText({ title: doc.title, text: doc.body }, options)
      : chunkGuideline({ title: doc.title, markdown: doc.body }, options)
  }
  const text = doc.body === '' ? doc.title : doc.body
  // Most records fit in one chunk: then the one count of the embedded text decides it, instead of
  // counting the title, the text and the embedded text apart.
  const whole = makeChunk(0, doc.title, text)
  if (whole.tokenCount <= options.maxTokens) return [whole]
  const budget = Math.max(16, options.maxTokens - countTokens(`${doc.title}\n\n`, CHUNK_ENCODING))
  return splitByTokens(text, budget, options.overlapTokens).map((piece, i) => makeChunk(i, doc.title, piece))
}

/**
 * A document's hash covers its source and every option that changes its chunks, so changing the
 * chunk size or the id column re-chunks instead of counting the document as unchanged.
 */
export function documentHash(doc: LoadedDocument, load: LoadOptions, chunk: ChunkOptions): string {
  const settings = JSON.stringify({
    v: CHUNKER_VERSION,
    kind: doc.kind,
    title: doc.title,
    idColumn: load.idColumn ?? null,
    textColumns: load.textColumns ?? null,
    titleColumn: load.titleColumn ?? null,
    maxTokens: chunk.maxTokens,
    overlapTokens: chunk.overlapTokens,
  })
  return sha256(`${settings}\n${doc.raw}`)
}
