import { Buffer } from 'node:buffer'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { ASCII_PIECE_END } from './ascii-pieces.js'
import { type EncodingName, loadTable } from './bpe-ranks.js'
import { EncodeJob, type Encoder, type PieceTokens } from './encode-job.js'
import { PieceCache } from './piece-cache.js'

/*
 * Byte-pair encoding for cl100k_base and o200k_base that returns exactly js-tiktoken's ids, from
 * js-tiktoken's own rank files and pre-tokenisation patterns, in time linear in the text (n log n within
 * one piece) where js-tiktoken's merge is quadratic in a piece's length (bpe-merge.ts).
 *
 * - encode / countTokens / decode: synchronous; fine for texts of a few KB to a few hundred KB
 *   (about 20–40 MB/s of ordinary text once its words are cached, ~1 s per MB of one unbroken word).
 * - encodeAsync / countTokensAsync: the same work in slices of SLICE_MS of wall time, yielding with
 *   setImmediate between slices, also in the middle of one huge word; for request bodies and files.
 * - Tables load on first use of an encoding (or loadEncoding), once per process: cl100k_base about
 *   7 MB of heap, o200k_base about 15 MB. Each encoding keeps a bounded cache of pieces (≤ 65,536).
 * - Special-token text such as "<|endoftext|>" is plain text unless allowedSpecial says otherwise,
 *   which is js-tiktoken's encode(text, [], []); disallowedSpecial makes it throw as js-tiktoken does.
 */

export { bpeOperations } from './bpe-merge.js'
export { ENCODING_NAMES, type EncodingName, isEncodingName } from './bpe-ranks.js'

export interface SpecialTokenOptions {
  /**
   * Special tokens (e.g. '<|endoftext|>') encoded as their ids where they appear; 'all' for every one.
   * Default none: they are plain text, which is what counting user or file text needs.
   */
  allowedSpecial?: 'all' | readonly string[]
  /**
   * Strings whose presence throws a SpecialTokenError, as in js-tiktoken; 'all' means every special
   * token not allowed. Default none. (js-tiktoken's own default is 'all'.)
   */
  disallowedSpecial?: 'all' | readonly string[]
}

export interface SliceOptions {
  /** Longest run of work between two yields to the event loop, in milliseconds. Default SLICE_MS. */
  sliceMs?: number
  /** Stops the work at the next yield with the signal's reason. */
  signal?: AbortSignal
}

/** The async API yields to the event loop after about this much work (checked every CHECK_UNITS). */
export const SLICE_MS = 5
// ~2,000 chars of text or heap operations: well under a millisecond, so a slice overruns SLICE_MS by little.
const CHECK_UNITS = 2048

// Per encoding: up to 2 × 32,768 cached pieces of at most 64 chars, a few MB at most.
const CACHE_GENERATION = 32_768
const CACHE_MAX_PIECE_CHARS = 64

export class SpecialTokenError extends Error {
  constructor(readonly token: string) {
    super(`The text contains a special token that is not allowed: ${token}`)
    this.name = 'SpecialTokenError'
  }
}

const encoders = new Map<EncodingName, Encoder>()

function getEncoder(name: EncodingName): Encoder {
  let encoder = encoders.get(name)
  if (encoder === undefined) {
    const table = loadTable(name)
    encoder = {
      table,
      cache: new PieceCache<PieceTokens>(CACHE_GENERATION, CACHE_MAX_PIECE_CHARS),
      regex: new RegExp(table.pattern, 'gu'),
      asciiPieceEnd: ASCII_PIECE_END[name],
      specialRegex: specialTokenRegex([...table.specialTokens.keys()]),
    }
    encoders.set(name, encoder)
  }
  return encoder
}

/**
 * Builds an encoding's tables now rather than on first use: cl100k_base takes about 0.15–0.3 s and 7 MB
 * of heap, o200k_base about 0.3–0.8 s and 15 MB (BENCHMARKS.md, Tokenizer). Once per process.
 */
export function loadEncoding(name: EncodingName): { loadMs: number; tokens: number } {
  const { table } = getEncoder(name)
  return { loadMs: table.loadMs, tokens: table.ranks.size + table.specialTokens.size }
}

export function encode(text: string, encoding: EncodingName, options: SpecialTokenOptions = {}): number[] {
  const out: number[] = []
  createJob(text, encoding, options, out, false).run(Number.POSITIVE_INFINITY)
  return out
}

export function countTokens(text: string, encoding: EncodingName, options: SpecialTokenOptions = {}): number {
  const job = createJob(text, encoding, options, null, false)
  job.run(Number.POSITIVE_INFINITY)
  return job.count
}

/** encode, in slices of at most about `sliceMs`, yielding to the event loop between them. */
export async function encodeAsync(
  text: string,
  encoding: EncodingName,
  options: SpecialTokenOptions & SliceOptions = {},
): Promise<number[]> {
  const out: number[] = []
  await runSliced(createJob(text, encoding, options, out, true), options)
  return out
}

/** countTokens, in slices of at most about `sliceMs`, yielding to the event loop between them. */
export async function countTokensAsync(
  text: string,
  encoding: EncodingName,
  options: SpecialTokenOptions & SliceOptions = {},
): Promise<number> {
  const job = createJob(text, encoding, options, null, true)
  await runSliced(job, options)
  return job.count
}

/** Text of the ids, as js-tiktoken decodes it: unknown ids are skipped, broken UTF-8 becomes U+FFFD. */
export function decode(tokens: ArrayLike<number>, encoding: EncodingName): string {
  const { table } = getEncoder(encoding)
  const parts: string[] = []
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!
    const bytes = table.bytesOfRank[token]
    if (bytes !== undefined) parts.push(bytes)
    else {
      const special = table.specialTokenBytes.get(token)
      if (special !== undefined) parts.push(Buffer.from(special).toString('latin1'))
    }
  }
  return textDecoder.decode(Buffer.from(parts.join(''), 'latin1'))
}

/** For tests and benchmarks: pieces in an encoding's cache (bounded by 2 × 32,768). */
export function cachedPieces(encoding: EncodingName): number {
  return getEncoder(encoding).cache.size
}

/** Forgets cached pieces, so a benchmark can measure cold encoding. */
export function clearPieceCache(encoding: EncodingName): void {
  getEncoder(encoding).cache.clear()
}

const textDecoder = new TextDecoder('utf-8')
const NO_SPECIAL_TOKENS: ReadonlySet<string> = new Set()

function createJob(
  text: string,
  encoding: EncodingName,
  options: SpecialTokenOptions,
  out: number[] | null,
  ownRegex: boolean,
): EncodeJob {
  const encoder = getEncoder(encoding)
  const regex = ownRegex ? new RegExp(encoder.table.pattern, 'gu') : encoder.regex
  // The common case, special-token text as plain text, skips building sets and patterns per call.
  if (options.allowedSpecial === undefined && options.disallowedSpecial === undefined) {
    return new EncodeJob(encoder, text, regex, NO_SPECIAL_TOKENS, out)
  }
  const specialNames = [...encoder.table.specialTokens.keys()]
  const allowed = new Set(options.allowedSpecial === 'all' ? specialNames : (options.allowedSpecial ?? []))
  const disallowed =
    options.disallowedSpecial === 'all'
      ? specialNames.filter((name) => !allowed.has(name))
      : (options.disallowedSpecial ?? [])
  if (disallowed.length > 0) {
    const found = text.match(specialTokenRegex(disallowed))
    if (found !== null) throw new SpecialTokenError(found[0])
  }
  return new EncodeJob(encoder, text, regex, allowed, out)
}

async function runSliced(job: EncodeJob, { sliceMs = SLICE_MS, signal }: SliceOptions): Promise<void> {
  signal?.throwIfAborted()
  let sliceStart = performance.now()
  while (!job.run(CHECK_UNITS)) {
    if (performance.now() - sliceStart < sliceMs) continue
    // setImmediate, not a resolved promise: timers and I/O callbacks get their turn before the next slice.
    await nextTurn()
    signal?.throwIfAborted()
    sliceStart = performance.now()
  }
}

function specialTokenRegex(tokens: readonly string[]): RegExp {
  return new RegExp(tokens.map((token) => token.replace(/[\\^$*+?.()|[\]{}]/g, '\\$&')).join('|'), 'g')
}
