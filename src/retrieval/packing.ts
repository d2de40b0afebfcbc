import type { SearchRow } from '../db/chunk-search.js'
import { jaccardAtLeast, joinAdjacent, ShingleVocabulary, wordShingles } from './text-similarity.js'
import type { Passage } from './types.js'

/**
 * A fused search hit with everything a passage needs: a stored chunk's columns, its document's, and
 * the scores; `vectorScore` is similarity, not distance.
 */
export interface CandidateChunk extends Omit<SearchRow, 'distance'> {
  vectorScore: number | null
}

export interface PackOptions {
  /** Chunks to keep (after dropping duplicates); merged neighbours count once each. */
  k: number
  /** `documents`: k counts distinct documents instead, and every kept chunk of them stays. */
  kUnit?: 'chunks' | 'documents'
  budgetTokens: number
  /** Word-shingle Jaccard similarity at or above which a chunk counts as a near-duplicate. */
  duplicateThreshold?: number
}

/**
 * Turn fused hits (best first) into passages:
 * 1. walk the hits in fused order, dropping exact (same content hash) and near duplicates of a chunk
 *    already kept, and skipping any chunk that would overflow the token budget (a later, smaller
 *    chunk may still fit: greedy first-fit, so the budget is used without reordering by size);
 * 2. stop at k kept chunks (or, counting documents, before the first chunk of a (k+1)-th document);
 * 3. merge kept chunks of one document with consecutive ordinals into one passage, placed where
 *    its best chunk ranked, with the best score of each kind.
 * Token counts are the stored per-chunk counts; merging never adds to them (overlap is removed).
 */
export function packPassages(
  hits: readonly CandidateChunk[],
  options: PackOptions,
): { passages: Passage[]; usedTokens: number } {
  // Shingles as numbers (several times faster to build); as strings if the texts hold too many words for that.
  const vocabulary = new ShingleVocabulary()
  const numbered = keepChunks<number>(hits, options, (text) => vocabulary.shingles(text))
  const { kept, usedTokens } = numbered ?? keepChunks<string>(hits, options, wordShingles)!
  return { passages: mergeAdjacent(kept), usedTokens }
}

/** Steps 1 and 2 of packPassages; undefined if `shinglesOf` could not shingle a text. */
function keepChunks<T>(
  hits: readonly CandidateChunk[],
  options: PackOptions,
  shinglesOf: (text: string) => Set<T> | undefined,
): { kept: CandidateChunk[]; usedTokens: number } | undefined {
  const threshold = options.duplicateThreshold ?? 0.9
  const kept: { chunk: CandidateChunk; shingles: Set<T> }[] = []
  const documents = new Set<number>()
  let usedTokens = 0
  for (const chunk of hits) {
    if (options.kUnit === 'documents') {
      if (documents.size >= options.k && !documents.has(chunk.documentId)) break
    } else if (kept.length >= options.k) break
    if (usedTokens + chunk.tokenCount > options.budgetTokens) continue
    const shingles = shinglesOf(chunk.text)
    if (shingles === undefined) return undefined
    const duplicate = kept.some(
      (other) =>
        other.chunk.contentHash === chunk.contentHash || jaccardAtLeast(other.shingles, shingles, threshold),
    )
    if (duplicate) continue
    kept.push({ chunk, shingles })
    documents.add(chunk.documentId)
    usedTokens += chunk.tokenCount
  }
  return { kept: kept.map((entry) => entry.chunk), usedTokens }
}

/** `chunks` are in fused order; each run of consecutive ordinals of one document becomes a passage. */
function mergeAdjacent(chunks: readonly CandidateChunk[]): Passage[] {
  const position = new Map(chunks.map((chunk, index) => [chunk.id, index]))
  const byDocument = new Map<number, CandidateChunk[]>()
  for (const chunk of chunks) {
    const group = byDocument.get(chunk.documentId)
    if (group === undefined) byDocument.set(chunk.documentId, [chunk])
    else group.push(chunk)
  }
  const runs: { first: number; chunks: CandidateChunk[] }[] = []
  for (const documentChunks of byDocument.values()) {
    const ordered = documentChunks.sort((a, b) => a.ordinal - b.ordinal)
    let run: CandidateChunk[] = []
    for (const chunk of ordered) {
      const previous = run.at(-1)
      if (previous !== undefined && chunk.ordinal !== previous.ordinal + 1) {
        runs.push(toRun(run, position))
        run = []
      }
      run.push(chunk)
    }
    if (run.length > 0) runs.push(toRun(run, position))
  }
  return runs.sort((a, b) => a.first - b.first).map((run) => toPassage(run.chunks))
}

function toRun(chunks: CandidateChunk[], position: Map<number, number>) {
  return { first: Math.min(...chunks.map((chunk) => position.get(chunk.id)!)), chunks }
}

function toPassage(chunks: CandidateChunk[]): Passage {
  const head = chunks[0]!
  return {
    documentId: head.documentId,
    sourceId: head.sourceId,
    title: head.title,
    kind: head.kind,
    headingPath: head.headingPath,
    text: chunks.slice(1).reduce((text, chunk) => joinAdjacent(text, chunk.text), head.text),
    chunkIds: chunks.map((chunk) => chunk.id),
    tokens: chunks.reduce((sum, chunk) => sum + chunk.tokenCount, 0),
    metadata: head.metadata,
    scores: {
      vector: best(chunks.map((chunk) => chunk.vectorScore)),
      lexical: best(chunks.map((chunk) => chunk.lexicalScore)),
      fused: Math.max(...chunks.map((chunk) => chunk.fused)),
    },
    ranks: {
      vector: bestRank(chunks.map((chunk) => chunk.vectorRank)),
      lexical: bestRank(chunks.map((chunk) => chunk.lexicalRank)),
      fused: Math.min(...chunks.map((chunk) => chunk.fusedRank)),
    },
  }
}

function best(scores: (number | null)[]): number | null {
  const present = scores.filter((score): score is number => score !== null)
  return present.length > 0 ? Math.max(...present) : null
}

function bestRank(ranks: (number | null)[]): number | null {
  const present = ranks.filter((rank): rank is number => rank !== null)
  return present.length > 0 ? Math.min(...present) : null
}
