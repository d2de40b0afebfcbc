import { createRequire } from 'node:module'

export type EncodingName = 'cl100k_base' | 'o200k_base'

export const ENCODING_NAMES: readonly EncodingName[] = ['cl100k_base', 'o200k_base']

/**
 * One encoding's tables. Byte strings are "binary strings": one char per byte (0–255), the form
 * `atob` returns, so a piece's UTF-8 bytes can be sliced with `substring` and looked up in a Map
 * without building a key per lookup the way js-tiktoken does (`bytes.join(',')`).
 */
export interface BpeTable {
  readonly name: EncodingName
  /** js-tiktoken's own pre-tokenisation pattern, unchanged, so pieces are the same. */
  readonly pattern: string
  readonly ranks: ReadonlyMap<string, number>
  /** rank → byte string, for decoding. */
  readonly bytesOfRank: readonly (string | undefined)[]
  /** Longest token in bytes: a longer byte string is never a token, so it is not looked up. */
  readonly maxTokenBytes: number
  /** rank of each single byte (every byte is a token in both encodings). */
  readonly byteRanks: Int32Array
  /** rank of each two-byte string (first byte × 256 + second), -1 if it is not a token. */
  readonly twoByteRanks: Int32Array
  readonly specialTokens: ReadonlyMap<string, number>
  readonly specialTokenBytes: ReadonlyMap<number, Uint8Array>
  /** Time it took to build these tables, for the benchmark and the report. */
  readonly loadMs: number
}

interface RankFile {
  pat_str: string
  special_tokens: Record<string, number>
  bpe_ranks: string
}

// The rank files ship inside js-tiktoken (already a dependency). `require` of the package's CommonJS
// build keeps loading synchronous and lazy: nothing is read until an encoding is first used.
const requireRanks = createRequire(import.meta.url)
const RANK_MODULES: Record<EncodingName, string> = {
  cl100k_base: 'js-tiktoken/ranks/cl100k_base',
  o200k_base: 'js-tiktoken/ranks/o200k_base',
}

const tables = new Map<EncodingName, BpeTable>()

export function isEncodingName(name: string): name is EncodingName {
  return (ENCODING_NAMES as readonly string[]).includes(name)
}

export function loadTable(name: EncodingName): BpeTable {
  const cached = tables.get(name)
  if (cached !== undefined) return cached
  if (!isEncodingName(name)) throw new TypeError(`Unknown encoding: ${String(name)}`)
  const started = performance.now()
  const path = requireRanks.resolve(RANK_MODULES[name])
  const table = buildTable(name, requireRanks(path) as RankFile, started)
  // The file's text (1 MB for cl100k, 2.3 MB for o200k) is no longer needed once the tables are built.
  delete requireRanks.cache[path]
  tables.set(name, table)
  return table
}

function buildTable(name: EncodingName, file: RankFile, started: number): BpeTable {
  const ranks = new Map<string, number>()
  const bytesOfRank: (string | undefined)[] = []
  let maxTokenBytes = 0
  // Same format js-tiktoken parses: lines of "<name> <first rank> <base64 token> <base64 token> …",
  // consecutive ranks from the first one.
  for (const line of file.bpe_ranks.split('\n')) {
    if (line === '') continue
    const fields = line.split(' ')
    const offset = Number.parseInt(fields[1] ?? '', 10)
    for (let i = 2; i < fields.length; i++) {
      const bytes = atob(fields[i]!)
      const rank = offset + i - 2
      ranks.set(bytes, rank)
      bytesOfRank[rank] = bytes
      if (bytes.length > maxTokenBytes) maxTokenBytes = bytes.length
    }
  }
  const byteRanks = new Int32Array(256)
  for (let byte = 0; byte < 256; byte++) {
    const rank = ranks.get(String.fromCharCode(byte))
    if (rank === undefined) throw new Error(`${name}: byte ${byte} has no rank`)
    byteRanks[byte] = rank
  }
  const twoByteRanks = new Int32Array(65536).fill(-1)
  for (const [bytes, rank] of ranks) {
    if (bytes.length === 2) twoByteRanks[(bytes.charCodeAt(0) << 8) | bytes.charCodeAt(1)] = rank
  }
  const encoder = new TextEncoder()
  const specialTokens = new Map(Object.entries(file.special_tokens))
  const specialTokenBytes = new Map([...specialTokens].map(([text, rank]) => [rank, encoder.encode(text)]))
  return {
    name,
    pattern: file.pat_str,
    ranks,
    bytesOfRank,
    maxTokenBytes,
    byteRanks,
    twoByteRanks,
    specialTokens,
    specialTokenBytes,
    loadMs: performance.now() - started,
  }
}
