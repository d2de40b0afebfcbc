import type { Passage } from '../retrieval/types.js'

interface Citation {
  /** The number the passage carried in the prompt: `[n]`. */
  n: number
  /** True when the output cites this passage. */
  cited: boolean
  documentId: number
  sourceId: string
  title: string
  headingPath: string
  chunkIds: number[]
}

export interface CitationReport {
  citations: Citation[]
  /** Markers in the output that name no supplied passage: reported, never turned into citations. */
  invalidCitations: number[]
}

/** `[3]`, and lists like `[1, 4]`. Ranges are not a convention models were told to use. */
const MARKER = /\[(\d{1,4}(?:\s*,\s*\d{1,4})*)\]/g

export function citedNumbers(output: string): number[] {
  const seen = new Set<number>()
  for (const match of output.matchAll(MARKER)) {
    for (const part of match[1]!.split(',')) seen.add(Number.parseInt(part.trim(), 10))
  }
  return [...seen]
}

/** What a citation needs of a passage: retrieved now, or stored with a generation. */
type CitedPassage = Pick<Passage, 'documentId' | 'sourceId' | 'title' | 'headingPath' | 'chunkIds'>

export function buildCitations(passages: readonly CitedPassage[], output: string): CitationReport {
  const cited = new Set(citedNumbers(output))
  return {
    citations: passages.map((passage, index) => ({
      n: index + 1,
      cited: cited.has(index + 1),
      documentId: passage.documentId,
      sourceId: passage.sourceId,
      title: passage.title,
      headingPath: passage.headingPath,
      chunkIds: passage.chunkIds,
    })),
    invalidCitations: [...cited].filter((n) => n < 1 || n > passages.length).sort((a, b) => a - b),
  }
}
