import { Buffer } from 'node:buffer'
import type { PieceEnd } from './ascii-pieces.js'
import { bpeOperations, LongPieceMerge, mergeShortPiece, SHORT_PIECE_BYTES } from './bpe-merge.js'
import type { BpeTable } from './bpe-ranks.js'
import type { PieceCache } from './piece-cache.js'

/** A piece's tokens: one id (most pieces are one token) or several. */
export type PieceTokens = number | readonly number[]

export interface Encoder {
  readonly table: BpeTable
  readonly cache: PieceCache<PieceTokens>
  /** Shared by synchronous jobs, which never interleave; an async job compiles its own. */
  readonly regex: RegExp
  /** The pattern evaluated by hand for ASCII; the regex takes over where it cannot tell. */
  readonly asciiPieceEnd: PieceEnd
  /** Every special token, in the rank file's order, as js-tiktoken builds it. */
  readonly specialRegex: RegExp
}

/**
 * Pieces longer than this many bytes are merged as a resumable job, so an async caller can yield in the
 * middle of one huge word; shorter ones are merged in one go (at most a few hundred microseconds).
 */
export const RESUMABLE_PIECE_BYTES = 4096

/** The token-counting and encoding work on one text, done in slices by `run`. */
export class EncodeJob {
  count = 0
  private start = 0
  private segment: string | null = null
  // The current piece is segment[pieceStart, position).
  private pieceStart = 0
  private position = 0
  private segmentSpecial: { token: number; resumeAt: number } | null = null
  private finished = false
  private merger: LongPieceMerge | null = null

  constructor(
    private readonly encoder: Encoder,
    private readonly text: string,
    private readonly regex: RegExp,
    // Texts of the special tokens to encode as such; empty: they are plain text.
    private readonly allowedSpecial: ReadonlySet<string>,
    // Where ids go; null when only counting.
    private readonly out: number[] | null,
  ) {}

  /** Does about `budget` units of work (a char of text or a merge operation each); true when done. */
  run(budget: number): boolean {
    let spent = 0
    const { cache, table } = this.encoder
    while (spent < budget) {
      if (this.merger !== null) {
        if (!this.merger.merged) {
          const before = bpeOperations()
          this.merger.step(budget - spent)
          spent += bpeOperations() - before + 1
          continue
        }
        const taken = this.merger.takeTokens(this.out, budget - spent)
        this.count += taken
        spent += taken + 1
        if (taken === 0) this.merger = null
        continue
      }
      if (this.segment === null && !this.openSegment()) return true
      const segment = this.segment!
      if (!this.nextPiece(segment)) {
        this.closeSegment()
        continue
      }
      spent += this.position - this.pieceStart + 1
      const hit = cache.find(segment, this.pieceStart, this.position)
      if (typeof hit === 'number') {
        this.count++
        if (this.out !== null) this.out.push(hit)
        continue
      }
      if (hit !== undefined) {
        this.emit(hit)
        continue
      }
      const piece = segment.substring(this.pieceStart, this.position)
      const bytes = utf8Bytes(piece)
      const direct = bytes.length <= table.maxTokenBytes ? table.ranks.get(bytes) : undefined
      if (direct !== undefined) {
        cache.set(piece, direct)
        this.emit(direct)
        continue
      }
      if (bytes.length > RESUMABLE_PIECE_BYTES) {
        this.merger = new LongPieceMerge(table, bytes)
        continue
      }
      const tokens: number[] = []
      if (bytes.length <= SHORT_PIECE_BYTES) mergeShortPiece(table, bytes, tokens)
      else {
        const merge = new LongPieceMerge(table, bytes)
        merge.step(Number.POSITIVE_INFINITY)
        merge.takeTokens(tokens, Number.POSITIVE_INFINITY)
      }
      cache.set(piece, tokens)
      this.emit(tokens)
    }
    return false
  }

  /** Finds the next piece, segment[pieceStart, position); false at the segment's end. */
  private nextPiece(segment: string): boolean {
    const start = this.position
    if (start >= segment.length) return false
    const end = this.encoder.asciiPieceEnd(segment, start, segment.length)
    if (end >= 0) {
      this.pieceStart = start
      this.position = end
      return true
    }
    // The pattern has no lookbehind, so matching from `start` is the same as continuing a global scan.
    this.regex.lastIndex = start
    const match = this.regex.exec(segment)
    if (match === null) return false
    this.pieceStart = match.index
    this.position = match.index + match[0].length
    return true
  }

  // js-tiktoken's loop: the text up to the next allowed special token is encoded as ordinary text, with
  // the pattern run on that substring alone; special tokens that are not allowed stay plain text.
  private openSegment(): boolean {
    if (this.finished) return false
    let end = this.text.length
    this.segmentSpecial = null
    if (this.allowedSpecial.size > 0) {
      const specials = this.encoder.specialRegex
      let from = this.start
      for (;;) {
        specials.lastIndex = from
        const found = specials.exec(this.text)
        if (found === null) break
        if (this.allowedSpecial.has(found[0])) {
          end = found.index
          const token = this.encoder.table.specialTokens.get(found[0])!
          this.segmentSpecial = { token, resumeAt: found.index + found[0].length }
          break
        }
        from = found.index + 1
      }
    }
    this.segment =
      this.start === 0 && end === this.text.length ? this.text : this.text.substring(this.start, end)
    this.position = 0
    return true
  }

  private closeSegment(): void {
    this.segment = null
    if (this.segmentSpecial === null) {
      this.finished = true
      return
    }
    this.emit(this.segmentSpecial.token)
    this.start = this.segmentSpecial.resumeAt
  }

  private emit(tokens: PieceTokens): void {
    if (typeof tokens === 'number') {
      this.count++
      this.out?.push(tokens)
      return
    }
    this.count += tokens.length
    if (this.out === null) return
    // A loop, not push(...tokens): a huge piece's ids would overflow the call stack as arguments.
    for (const token of tokens) this.out.push(token)
  }
}

/** The piece's UTF-8 bytes as a byte string; ASCII is already one. Lone surrogates become U+FFFD, as with TextEncoder. */
function utf8Bytes(piece: string): string {
  for (let i = 0; i < piece.length; i++) {
    if (piece.charCodeAt(i) > 0x7f) return Buffer.from(piece, 'utf8').toString('latin1')
  }
  return piece
}
