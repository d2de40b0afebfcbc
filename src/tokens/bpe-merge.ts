import type { BpeTable } from './bpe-ranks.js'

/*
 * Byte-pair merging of one piece, exactly as tiktoken's `byte_pair_merge` (and js-tiktoken's
 * `bytePairMerge`) does it: start from single bytes; repeatedly merge the adjacent pair whose
 * concatenation has the lowest rank, the leftmost one on ties; stop when no adjacent pair is a token.
 * tiktoken finds that pair by scanning every pair after every merge, O(n²) in the piece: a 20,000-letter
 * word took minutes. Long pieces here keep their pairs in a binary heap ordered by (rank, start), so a
 * merge costs O(log n) and a piece O(n log n). Pieces are byte strings (one char per byte).
 */

/** No rank: the pair's concatenation is not a token. Larger than every rank, so scans need no special case. */
const NO_RANK = 0x7fffffff

/**
 * Pieces up to this many bytes use tiktoken's scan (at most SHORT_PIECE_BYTES² steps, and faster than
 * building a heap at that size); longer ones use the heap.
 */
export const SHORT_PIECE_BYTES = 32

// Elementary operations since the process started (rank lookups, pair scans, heap moves, merges), so
// tests can assert how the work grows with the input without timing anything.
let operations = 0

export function bpeOperations(): number {
  return operations
}

function rankOf(table: BpeTable, bytes: string, start: number, end: number): number {
  if (end - start > table.maxTokenBytes) return NO_RANK
  return table.ranks.get(bytes.substring(start, end)) ?? NO_RANK
}

function pushPart(table: BpeTable, bytes: string, start: number, end: number, out: number[]): void {
  out.push(
    end - start === 1
      ? table.byteRanks[bytes.charCodeAt(start)]!
      : table.ranks.get(bytes.substring(start, end))!,
  )
}

// Scratch for short pieces; safe to share because a short piece is merged in one synchronous call.
const starts = new Int32Array(SHORT_PIECE_BYTES + 1)
const pairRanks = new Int32Array(SHORT_PIECE_BYTES)

/** Tokens of a piece of 2..SHORT_PIECE_BYTES bytes that is not itself a token. */
export function mergeShortPiece(table: BpeTable, bytes: string, out: number[]): void {
  const n = bytes.length
  let parts = n
  for (let i = 0; i <= n; i++) starts[i] = i
  for (let i = 0; i < n - 1; i++) pairRanks[i] = rankOf(table, bytes, i, i + 2)
  let ops = n
  for (;;) {
    let best = NO_RANK
    let at = -1
    for (let i = 0; i < parts - 1; i++) {
      if (pairRanks[i]! < best) {
        best = pairRanks[i]!
        at = i
      }
    }
    ops += parts
    if (at < 0) break
    starts.copyWithin(at + 1, at + 2, parts + 1)
    pairRanks.copyWithin(at + 1, at + 2, parts - 1)
    parts--
    pairRanks[at] = at + 1 < parts ? rankOf(table, bytes, starts[at]!, starts[at + 2]!) : NO_RANK
    if (at > 0) pairRanks[at - 1] = rankOf(table, bytes, starts[at - 1]!, starts[at + 1]!)
    ops += parts + 2
  }
  for (let i = 0; i < parts; i++) pushPart(table, bytes, starts[i]!, starts[i + 1]!, out)
  operations += ops
}

type Stage = 'pairs' | 'heapify' | 'merge' | 'done'

// A heap entry is one number: rank × 2³² + start. Ordering numbers orders by rank, then leftmost, as
// tiktoken does; ranks < 2²¹ and starts < 2³² keep it an exact integer below 2⁵³.
const START_SPAN = 2 ** 32

/**
 * A long piece's merge as a resumable job: `step(budget)` does about `budget` operations and says
 * whether it finished, so the async encoder can yield to the event loop in the middle of one huge word.
 * The heap keeps stale entries and drops them when popped (an entry is stale when its start's pair rank
 * changed): each merge pushes at most two entries, so it holds at most 3n. Memory: 16 bytes per byte of
 * the piece in Int32Arrays plus 8 per live heap entry, freed with the job.
 */
export class LongPieceMerge {
  private readonly n: number
  // Parts form a linked list of start offsets; next[start] is the next part's start (n at the end).
  private readonly next: Int32Array
  private readonly prev: Int32Array
  // pairRank[start]: rank of this part joined with the next one, NO_RANK if that is not a token.
  private readonly pairRank: Int32Array
  // partRank[start]: the part's own token.
  private readonly partRank: Int32Array
  private heap: Float64Array
  private size = 0
  private stage: Stage = 'pairs'
  private cursor = 0
  private ops = 0

  constructor(
    private readonly table: BpeTable,
    private readonly bytes: string,
  ) {
    const n = bytes.length
    this.n = n
    // Filled in by the first stage of step(), so that creating a job costs no more than allocating.
    this.next = new Int32Array(n + 1)
    this.prev = new Int32Array(n + 1)
    this.pairRank = new Int32Array(n)
    this.partRank = new Int32Array(n)
    this.heap = new Float64Array(Math.max(16, n))
  }

  get merged(): boolean {
    return this.stage === 'done'
  }

  /** Runs until finished or until about `budget` more operations are done; true when finished. */
  step(budget: number): boolean {
    const limit = this.ops + budget
    if (this.stage === 'pairs') {
      const { n, next, prev, pairRank, partRank, heap, bytes } = this
      const { byteRanks, twoByteRanks } = this.table
      let i = this.cursor
      for (; i < n && this.ops < limit; i++, this.ops++) {
        next[i] = i + 1
        prev[i] = i - 1
        const byte = bytes.charCodeAt(i)
        partRank[i] = byteRanks[byte]!
        const rank = i === n - 1 ? -1 : twoByteRanks[(byte << 8) | bytes.charCodeAt(i + 1)]!
        if (rank < 0) {
          pairRank[i] = NO_RANK
          continue
        }
        pairRank[i] = rank
        heap[this.size++] = rank * START_SPAN + i
      }
      this.cursor = i
      if (i < n) return this.pause()
      next[n] = n + 1
      prev[n] = n - 1
      this.stage = 'heapify'
      this.cursor = (this.size >> 1) - 1
    }
    if (this.stage === 'heapify') {
      for (; this.cursor >= 0 && this.ops < limit; this.cursor--) this.siftDown(this.cursor)
      if (this.cursor >= 0) return this.pause()
      this.stage = 'merge'
    }
    while (this.size > 0 && this.ops < limit) this.mergeLowest()
    if (this.size > 0) return this.pause()
    this.stage = 'done'
    this.cursor = 0
    return this.pause()
  }

  /**
   * After the merge: appends up to `budget` of the piece's tokens to `out` (only counts them when `out`
   * is null), continuing where the previous call stopped; returns how many. 0 means all were taken.
   */
  takeTokens(out: number[] | null, budget: number): number {
    if (this.stage !== 'done') throw new Error('LongPieceMerge.takeTokens before the merge finished')
    let taken = 0
    let start = this.cursor
    for (; start < this.n && taken < budget; start = this.next[start]!, taken++)
      out?.push(this.partRank[start]!)
    this.cursor = start
    return taken
  }

  private pause(): boolean {
    operations += this.ops
    this.ops = 0
    return this.stage === 'done'
  }

  private mergeLowest(): void {
    const key = this.pop()
    const rank = Math.floor(key / START_SPAN)
    const left = key - rank * START_SPAN
    this.ops++
    if (this.pairRank[left] !== rank) return
    const { next, prev, n } = this
    const right = next[left]!
    const after = next[right]!
    this.pairRank[right] = NO_RANK
    this.partRank[left] = rank
    next[left] = after
    prev[after] = left
    this.setPairRank(left, after < n ? rankOf(this.table, this.bytes, left, next[after]!) : NO_RANK)
    const before = prev[left]!
    if (before >= 0) this.setPairRank(before, rankOf(this.table, this.bytes, before, after))
    this.ops += 2
  }

  private setPairRank(start: number, rank: number): void {
    this.pairRank[start] = rank
    if (rank !== NO_RANK) this.push(rank * START_SPAN + start)
  }

  private push(key: number): void {
    if (this.size === this.heap.length) {
      const grown = new Float64Array(this.heap.length * 2)
      grown.set(this.heap)
      this.heap = grown
    }
    const heap = this.heap
    let at = this.size++
    while (at > 0) {
      const parent = (at - 1) >> 1
      if (heap[parent]! <= key) break
      heap[at] = heap[parent]!
      at = parent
      this.ops++
    }
    heap[at] = key
  }

  private pop(): number {
    const heap = this.heap
    const top = heap[0]!
    const last = heap[--this.size]!
    if (this.size > 0) {
      heap[0] = last
      this.siftDown(0)
    }
    return top
  }

  private siftDown(at: number): void {
    const heap = this.heap
    const size = this.size
    const item = heap[at]!
    for (;;) {
      let child = 2 * at + 1
      if (child >= size) break
      if (child + 1 < size && heap[child + 1]! < heap[child]!) child++
      const below = heap[child]!
      if (below >= item) break
      heap[at] = below
      at = child
      this.ops++
    }
    heap[at] = item
  }
}
