import { countTokens } from '../../src/tokens/tokenizer.js'
import { CHUNK_ENCODING, type ChunkDraft, type ChunkOptions, HEADING_SEPARATOR, makeChunk } from './chunk.js'
import { type Block, blockParts, parseBlocks } from './markdown-blocks.js'
import { splitByTokens } from './split-tokens.js'

interface Section {
  path: string[]
  blocks: Block[]
}

/**
 * Split a Markdown guideline along its headings. Each chunk carries its heading path (title first);
 * consecutive blocks of a section share a chunk while they fit, lists and tables stay whole when
 * they fit, and anything longer is cut by tokens with overlap.
 */
export function chunkGuideline(
  input: { title: string; markdown: string },
  options: ChunkOptions,
): ChunkDraft[] {
  const chunks: ChunkDraft[] = []
  for (const section of splitSections(input.title, parseBlocks(input.markdown))) {
    const headingPath = section.path.join(HEADING_SEPARATOR)
    // The heading path is embedded with every chunk, so it takes its share of the budget.
    const budget = Math.max(16, options.maxTokens - countTokens(`${headingPath}\n\n`, CHUNK_ENCODING))
    for (const text of packSection(section.blocks, budget, options.overlapTokens)) {
      chunks.push(makeChunk(chunks.length, headingPath, text))
    }
  }
  return chunks
}

/** Plain text has no markup: paragraphs are its only structure, under the file's title. */
export function chunkPlainText(input: { title: string; text: string }, options: ChunkOptions): ChunkDraft[] {
  const blocks: Block[] = input.text
    .replace(/\r\n?/g, '\n')
    .split(/\n\s*\n/)
    .map((text) => text.trim())
    .filter((text) => text !== '')
    .map((text) => ({ type: 'paragraph', text }))
  const headingPath = input.title
  const budget = Math.max(16, options.maxTokens - countTokens(`${headingPath}\n\n`, CHUNK_ENCODING))
  return packSection(blocks, budget, options.overlapTokens).map((text, i) => makeChunk(i, headingPath, text))
}

function splitSections(title: string, blocks: Block[]): Section[] {
  const sections: Section[] = []
  // stack[level] = heading text; level 0 is the document title.
  const stack: string[] = title === '' ? [] : [title]
  const levels: number[] = title === '' ? [] : [0]
  let current: Section = { path: [...stack], blocks: [] }
  for (const block of blocks) {
    if (block.type !== 'heading') {
      current.blocks.push(block)
      continue
    }
    if (current.blocks.length > 0) sections.push(current)
    while (levels.length > 0 && levels[levels.length - 1]! >= block.level) {
      levels.pop()
      stack.pop()
    }
    // A top heading repeating the title adds nothing to the path.
    const repeatsTitle = block.level === 1 && stack.length === 1 && levels[0] === 0 && block.text === title
    if (!repeatsTitle) {
      stack.push(stripInlineMarkup(block.text))
      levels.push(block.level)
    }
    current = { path: [...stack], blocks: [] }
  }
  if (current.blocks.length > 0) sections.push(current)
  return sections
}

function packSection(blocks: Block[], budget: number, overlap: number): string[] {
  const out: string[] = []
  let buffer: string[] = []
  let used = 0
  const flush = () => {
    if (buffer.length > 0) out.push(buffer.join('\n\n'))
    buffer = []
    used = 0
  }
  for (const block of blocks) {
    const tokens = countTokens(block.text, CHUNK_ENCODING) + 1
    if (tokens <= budget) {
      if (used + tokens > budget) flush()
      buffer.push(block.text)
      used += tokens
      continue
    }
    flush()
    out.push(...splitBlock(block, budget, overlap))
  }
  flush()
  return out
}

/** A block too long for one chunk: lists by items and tables by rows (header repeated), else by tokens. */
function splitBlock(block: Block, budget: number, overlap: number): string[] {
  if (block.type !== 'list' && block.type !== 'table') return splitByTokens(block.text, budget, overlap)
  const { header, parts } = blockParts(block)
  const headerTokens = header === '' ? 0 : countTokens(header, CHUNK_ENCODING) + 1
  const room = Math.max(16, budget - headerTokens)
  const out: string[] = []
  let group: string[] = []
  let used = 0
  const emit = () => {
    if (group.length > 0) out.push([header, ...group].filter((s) => s !== '').join('\n'))
    group = []
    used = 0
  }
  for (const part of parts) {
    const tokens = countTokens(part, CHUNK_ENCODING) + 1
    if (tokens > room) {
      emit()
      for (const piece of splitByTokens(part, room, overlap))
        out.push(header === '' ? piece : `${header}\n${piece}`)
      continue
    }
    if (used + tokens > room) emit()
    group.push(part)
    used += tokens
  }
  emit()
  return out
}

function stripInlineMarkup(text: string): string {
  return text
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[*_`]/g, '')
    .trim()
}
