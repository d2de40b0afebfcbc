import { hasFilters, type PendingSearchOptions, type SearchTarget } from '../db/chunk-search.js'
import {
  forEachLexeme,
  queryLexemes,
  readPostingsPage,
  readTextStats,
  readTextVersion,
} from '../db/text-postings.js'
import type { Queryable } from '../db/transaction.js'

/**
 * An in-process BM25 index: a large collection's postings (chunk, word, term frequency) in typed arrays,
 * so the lexical arm ranks in this process instead of in bm25_search. Exact BM25 over every posting of
 * every query word, with bm25_search's arithmetic (migrations 0005, 0021): the same ids and scores as
 * bm25_search without a candidate cap, at a fraction of its cost (BENCHMARKS.md, retrieval latency).
 *
 * Freshness: an index is built at one version of the collection's text (collection_text_stats.version,
 * migration 0022, raised in the transaction of every change), and the search fetches its rows in a
 * statement that checks that version (chunk-search.ts, fetchRankedRows). A change makes the next
 * search find the index stale: that search and the ones after it use SQL until a new index is built in
 * the background, once the collection has had no change for a while (rebuildDelayMs: during an ingest
 * the index is rebuilt when its writes pause, not after each). One build at a time per collection, in
 * pages of rows, so neither the event loop nor the connection pool is held for long.
 */

export interface Bm25MemorySettings {
  /** Memory every index of this process may take together, in bytes (estimated: bytesFor); 0: no index. */
  maxBytes: number
  /** Collections with fewer chunks are searched with SQL (fast enough there). */
  minChunks: number
  /**
   * A question whose words hold more postings than this is ranked by SQL (bm25_search, with its cap):
   * scoring runs on the event loop, about 10 ns a posting.
   */
  maxQueryPostings?: number
  /** Chunks read per statement while building. */
  pageSize?: number
  /** After a build that was skipped or failed: how long before the next try. */
  retryMs?: number
  /**
   * How long a collection's text must go unchanged before its index is (re)built after a change: during an
   * ingest the index is rebuilt when the writes pause, not after each of them.
   */
  rebuildDelayMs?: number
  /** An index not searched for this long may be dropped to make room for another collection's. */
  evictAfterMs?: number
  /** Send the search's statements (lexemes, vector candidates, rows) as named prepared statements (DB_PREPARED_STATEMENTS). */
  preparedStatements?: boolean
  now?: () => number
  /** Told about builds that failed (the search goes on with SQL). */
  onBuildError?: (collectionId: number, error: unknown) => void
}

/**
 * Estimated bytes of an index: per posting its chunk index and term frequency (6), per chunk its id,
 * length, score, length norm, touched slot, mark and build offset (41, counted as 45), per distinct word its
 * map entry, string, list offset and bounds (about 110); while building, 6 more a posting.
 */
export function bytesFor(
  counts: { postings: number; chunks: number; terms: number },
  building = false,
): number {
  return (building ? 12 : 6) * counts.postings + 45 * counts.chunks + 110 * counts.terms
}

/** One collection's postings at one version of its text. */
export interface Bm25Snapshot {
  collectionId: number
  version: string
  chunkCount: number
  averageLength: number
  postings: number
  terms: Map<string, number>
  /** Postings of term t: termStart[t] up to termStart[t + 1]. */
  termStart: Uint32Array
  postingChunk: Uint32Array
  postingTf: Uint16Array
  chunkIds: Float64Array
  chunkLength: Float64Array
  /**
   * Bounds for pruning (searchSnapshot), per term: the most `tf · (k1 + 1) / (tf + norm)` of any of its
   * postings at the k1 and b the collection had when the index was built; and, for other k1 and b, its
   * highest term frequency and the length of the shortest chunk holding it.
   */
  termBound: { k1: number; b: number; values: Float64Array }
  termMaxTf: Uint16Array
  termMinLength: Float64Array
  /** Scratch of search(): a score per chunk, zero between searches, and the chunks it touched. */
  scratch: Float64Array
  touched: Uint32Array
  /** The chunks a pruned search still scores (searchSnapshot), zero between searches. */
  marked: Uint8Array
  /** Length normalisation per chunk for the last k1 and b searched with (lengthNorms). */
  norms?: { k1: number; b: number; values: Float64Array }
  /** bytesFor this index. */
  bytes: number
}

export interface RankedChunks {
  ids: number[]
  scores: number[]
  /** Postings whose share was added to a score: those of the question's words, less what pruning spared. */
  scored: number
}

type State =
  | { kind: 'building'; reserved: number; done: Promise<void> }
  | { kind: 'ready'; snapshot: Bm25Snapshot; usedAt: number }
  /** `version`: the text version last seen; a build starts only if it is still that (no change meanwhile). */
  | { kind: 'waiting'; until: number; version?: string }

/** Why a build ended without an index: the next try waits for quiet (`changed`) or retryMs (the rest). */
type BuildOutcome = Bm25Snapshot | { changed: string } | 'skipped'

export class Bm25MemoryIndexes {
  readonly #states = new Map<number, State>()
  #reserved = 0
  #closed = false
  readonly #pageSize: number
  readonly #retryMs: number
  readonly #rebuildDelayMs: number
  readonly #evictAfterMs: number
  readonly #now: () => number

  constructor(
    private readonly db: Queryable,
    private readonly settings: Bm25MemorySettings,
  ) {
    this.#pageSize = settings.pageSize ?? 500
    this.#retryMs = settings.retryMs ?? 30_000
    this.#rebuildDelayMs = settings.rebuildDelayMs ?? 10_000
    this.#evictAfterMs = settings.evictAfterMs ?? 60_000
    this.#now = settings.now ?? Date.now
  }

  /**
   * The collection's index if one is built, else undefined: the caller searches with SQL, and a build
   * starts in the background unless one runs or the last attempt was too recent.
   */
  get(collectionId: number): Bm25Snapshot | undefined {
    if (this.settings.maxBytes === 0 || this.#closed) return undefined
    const state = this.#states.get(collectionId)
    if (state?.kind === 'ready') {
      state.usedAt = this.#now()
      return state.snapshot
    }
    if (state === undefined) this.#startBuild(collectionId, undefined)
    else if (state.kind === 'waiting' && this.#now() >= state.until)
      this.#startBuild(collectionId, state.version)
    return undefined
  }

  /**
   * A search found the collection's text at `version`, not the one `snapshot` was built at: drop it; it is
   * rebuilt once the text has stayed the same for rebuildDelayMs.
   */
  stale(snapshot: Bm25Snapshot, version: string | undefined): void {
    const state = this.#states.get(snapshot.collectionId)
    if (state?.kind !== 'ready' || state.snapshot !== snapshot) return
    this.#reserved -= snapshot.bytes
    this.#states.set(snapshot.collectionId, {
      kind: 'waiting',
      until: this.#now() + this.#rebuildDelayMs,
      ...(version === undefined ? {} : { version }),
    })
  }

  /** Resolves when no build of the collection is running (tests and benchmarks wait for the index). */
  async settled(collectionId: number): Promise<void> {
    for (;;) {
      const state = this.#states.get(collectionId)
      if (state?.kind !== 'building') return
      await state.done
    }
  }

  /** Whether searches send their statements prepared (Bm25MemorySettings.preparedStatements). */
  get preparedStatements(): boolean {
    return this.settings.preparedStatements ?? false
  }

  /** Most postings a question's words may hold for the index to rank it. */
  get maxQueryPostings(): number {
    return this.settings.maxQueryPostings ?? 2_000_000
  }

  /** Bytes held or being built into, over every collection (bytesFor). */
  get reservedBytes(): number {
    return this.#reserved
  }

  /** Stop: running builds end at their next statement (awaited here), and no index is used or built again. */
  async close(): Promise<void> {
    this.#closed = true
    const running = [...this.#states.values()].flatMap((state) =>
      state.kind === 'building' ? [state.done] : [],
    )
    this.#states.clear()
    this.#reserved = 0
    await Promise.all(running)
  }

  #startBuild(collectionId: number, quietVersion: string | undefined): void {
    const state: State = { kind: 'building', reserved: 0, done: Promise.resolve() }
    this.#states.set(collectionId, state)
    const settle = (next: State | undefined, error?: unknown) => {
      if (this.#states.get(collectionId) !== state) return
      this.#reserved -= state.reserved
      if (next?.kind === 'ready') this.#reserved += next.snapshot.bytes
      this.#states.set(collectionId, next ?? { kind: 'waiting', until: this.#now() + this.#retryMs })
      if (error !== undefined) this.settings.onBuildError?.(collectionId, error)
    }
    state.done = this.#build(collectionId, state, quietVersion).then(
      (outcome) => {
        if (outcome === 'skipped') settle(undefined)
        else if ('changed' in outcome)
          settle({ kind: 'waiting', until: this.#now() + this.#rebuildDelayMs, version: outcome.changed })
        else settle({ kind: 'ready', snapshot: outcome, usedAt: this.#now() })
      },
      (error: unknown) => settle(undefined, error ?? new Error('build failed')),
    )
  }

  /** Drop indexes not searched for evictAfterMs, least recently searched first, until `bytes` more fit. */
  #makeRoom(bytes: number): boolean {
    const idle = [...this.#states.entries()]
      .flatMap(([id, state]) =>
        state.kind === 'ready' && this.#now() - state.usedAt >= this.#evictAfterMs ? [{ id, state }] : [],
      )
      .sort((a, b) => a.state.usedAt - b.state.usedAt)
    for (const { id, state } of idle) {
      if (this.#reserved + bytes <= this.settings.maxBytes) break
      this.#states.delete(id)
      this.#reserved -= state.snapshot.bytes
    }
    return this.#reserved + bytes <= this.settings.maxBytes
  }

  async #build(
    collectionId: number,
    state: Extract<State, { kind: 'building' }>,
    quietVersion: string | undefined,
  ): Promise<BuildOutcome> {
    const stats = await readTextStats(this.db, collectionId)
    if (this.#closed || this.#states.get(collectionId) !== state) return 'skipped'
    if (stats === undefined || stats.chunkCount < Math.max(1, this.settings.minChunks)) return 'skipped'
    // Changed since it was last seen: not quiet yet.
    if (quietVersion !== undefined && stats.version !== quietVersion) return { changed: stats.version }
    const counts = { postings: stats.postings, chunks: stats.chunkCount, terms: stats.terms }
    if (!this.#makeRoom(bytesFor(counts, true))) return 'skipped'
    state.reserved = bytesFor(counts, true)
    this.#reserved += state.reserved

    const chunkCount = stats.chunkCount
    const chunkIds = new Float64Array(chunkCount)
    const chunkLength = new Float64Array(chunkCount)
    const chunkStart = new Uint32Array(chunkCount + 1)
    const postingTerm = new Uint32Array(stats.postings)
    const postingTfByChunk = new Uint16Array(stats.postings)
    const terms = new Map<string, number>()
    let chunks = 0
    let postings = 0
    let afterId = 0
    // The text changed while it was read: more rows or words than the statistics said.
    const changed = async (): Promise<BuildOutcome> => ({
      changed: (await readTextVersion(this.db, collectionId)) ?? stats.version,
    })
    for (;;) {
      const page = await readPostingsPage(this.db, collectionId, afterId, this.#pageSize)
      if (this.#closed || this.#states.get(collectionId) !== state) return 'skipped'
      for (const row of page) {
        if (chunks === chunkCount) return changed()
        chunkIds[chunks] = row.id
        chunkLength[chunks] = row.length
        let overflow = false
        forEachLexeme(row.tsv, (lexeme, tf) => {
          if (postings === stats.postings) {
            overflow = true
            return
          }
          let term = terms.get(lexeme)
          if (term === undefined) {
            term = terms.size
            terms.set(lexeme, term)
          }
          postingTerm[postings] = term
          postingTfByChunk[postings] = tf
          postings++
        })
        if (overflow) return changed()
        chunks++
        chunkStart[chunks] = postings
        afterId = row.id
      }
      // Every page read at version `stats.version`: the index is of that version, whatever changes after
      // (the search's row statement checks it).
      const version = await readTextVersion(this.db, collectionId)
      if (version !== stats.version) return { changed: version ?? stats.version }
      if (page.length < this.#pageSize) break
    }
    if (chunks !== chunkCount || postings !== stats.postings) return { changed: stats.version }

    // Group the postings by word (a counting sort: each word's chunks stay in id order).
    const termStart = new Uint32Array(terms.size + 1)
    for (let p = 0; p < postings; p++) {
      const slot = (postingTerm[p] as number) + 1
      termStart[slot] = (termStart[slot] as number) + 1
      if (p % 1_000_000 === 999_999) await yieldToEventLoop()
    }
    for (let t = 1; t <= terms.size; t++)
      termStart[t] = (termStart[t] as number) + (termStart[t - 1] as number)
    const next = termStart.slice(0, terms.size)
    const postingChunk = new Uint32Array(postings)
    const postingTf = new Uint16Array(postings)
    const termMaxTf = new Uint16Array(terms.size)
    const termMinLength = new Float64Array(terms.size).fill(Number.POSITIVE_INFINITY)
    const { k1, b } = stats
    const averageLength = stats.wordCount / Math.max(chunkCount, 1)
    const norms = lengthNormsOf(chunkLength, averageLength, k1, b)
    const termBound = new Float64Array(terms.size)
    for (let c = 0; c < chunks; c++) {
      const length = chunkLength[c] as number
      const norm = norms[c] as number
      for (let p = chunkStart[c] as number; p < (chunkStart[c + 1] as number); p++) {
        const term = postingTerm[p] as number
        const tf = postingTfByChunk[p] as number
        const at = next[term] as number
        next[term] = at + 1
        postingChunk[at] = c
        postingTf[at] = tf
        if (tf > (termMaxTf[term] as number)) termMaxTf[term] = tf
        if (length < (termMinLength[term] as number)) termMinLength[term] = length
        const most = saturation(tf, k1, norm)
        if (most > (termBound[term] as number)) termBound[term] = most
      }
      if (c % 2000 === 1999) await yieldToEventLoop()
    }
    if (this.#closed || this.#states.get(collectionId) !== state) return 'skipped'
    return {
      collectionId,
      version: stats.version,
      chunkCount,
      averageLength,
      postings,
      terms,
      termStart,
      postingChunk,
      postingTf,
      chunkIds,
      chunkLength,
      termBound: { k1, b, values: termBound },
      termMaxTf,
      termMinLength,
      norms: { k1, b, values: norms },
      scratch: new Float64Array(chunkCount),
      touched: new Uint32Array(Math.min(chunkCount, postings)),
      marked: new Uint8Array(chunkCount),
      bytes: bytesFor({ postings, chunks, terms: terms.size }),
    }
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/**
 * The `maxRows` best chunks for the query's lexemes by BM25, best first (ties: lower id first), as
 * bm25_search computes them without a candidate cap: words the collection lacks are ignored; idf =
 * ln(1 + (N − df + 0.5) / (df + 0.5)); each word a chunk holds adds idf · tf · (k1 + 1) / (tf + k1 · (1 − b
 * + b · length / average length)). Synchronous: a search is a few passes over typed arrays.
 *
 * Exact, with MaxScore's pruning (Turtle and Flood, 1995): words are taken rarest first (highest bound
 * on what one posting can add); once the bounds of the words left add up to less than the `maxRows`-th
 * best score so far, no chunk none of the words so far holds can reach the answer, so the postings of the
 * common words left (most of a natural-language question's) are scored only for the chunks that still
 * can. The answer is exactly that of scoring every posting in the same word order (scores are summed rarest
 * word first, so chunks that tie in exact arithmetic may differ in the last bit, as they may from
 * bm25_search's sums). At 100k chunks and the SciFact claims: a quarter of the postings scored, 0.6 of the time.
 */
export function searchSnapshot(
  snapshot: Bm25Snapshot,
  lexemes: readonly string[],
  k1: number,
  b: number,
  maxRows: number,
): RankedChunks {
  const { scratch, touched, postingChunk, postingTf } = snapshot
  const norm = lengthNorms(snapshot, k1, b)
  const words = queryWords(snapshot, lexemes, k1, b)
  // What the words from i on can add to one chunk at most, and how many postings they hold.
  const boundAfter = new Float64Array(words.length + 1)
  const postingsAfter = new Float64Array(words.length + 1)
  for (let i = words.length - 1; i >= 0; i--) {
    const word = words[i] as QueryWord
    boundAfter[i] = (boundAfter[i + 1] as number) + word.bound
    postingsAfter[i] = (postingsAfter[i + 1] as number) + word.end - word.start
  }
  let touchedCount = 0
  let scored = 0
  let i = 0
  let floor = Number.NEGATIVE_INFINITY
  for (; i < words.length; i++) {
    const { start, end, idf } = words[i] as QueryWord
    for (let p = start; p < end; p++) {
      const chunk = postingChunk[p] as number
      const tf = postingTf[p] as number
      const current = scratch[chunk] as number
      if (current === 0) touched[touchedCount++] = chunk
      scratch[chunk] = current + share(idf, tf, k1, norm[chunk] as number)
    }
    scored += end - start
    // Worth finding the floor (a pass over the chunks touched) only when it could save more postings, and
    // when it could be high enough: no score so far exceeds the bounds of the words taken.
    const left = postingsAfter[i + 1] as number
    const rest = boundAfter[i + 1] as number
    if (left < PRUNE_CHECK_RATIO * touchedCount || rest >= (boundAfter[0] as number) - rest) continue
    floor = kthScore(scratch, touched, touchedCount, maxRows)
    if (mayStillReach(0, rest, floor)) continue
    i++
    break
  }
  if (i < words.length) {
    // The chunks that can still reach the floor, marked and kept at the front of `touched` (the others'
    // scores are cleared now): the words left are read in full, but only the marked chunks' postings are
    // scored (a read of a small array instead of two large ones).
    const { marked } = snapshot
    let count = 0
    for (let t = 0; t < touchedCount; t++) {
      const chunk = touched[t] as number
      if (mayStillReach(scratch[chunk] as number, boundAfter[i] as number, floor)) {
        touched[count++] = chunk
        marked[chunk] = 1
      } else {
        scratch[chunk] = 0
      }
    }
    touchedCount = count
    for (; i < words.length; i++) {
      const { start, end, idf } = words[i] as QueryWord
      for (let p = start; p < end; p++) {
        const chunk = postingChunk[p] as number
        if (marked[chunk] === 0) continue
        scored++
        const tf = postingTf[p] as number
        scratch[chunk] = (scratch[chunk] as number) + share(idf, tf, k1, norm[chunk] as number)
      }
    }
    for (let t = 0; t < count; t++) marked[touched[t] as number] = 0
  }
  const best = topChunks(scratch, touched, touchedCount, maxRows)
  const ranked = {
    ids: best.map((chunk) => snapshot.chunkIds[chunk] as number),
    scores: best.map((chunk) => scratch[chunk] as number),
    scored,
  }
  for (let t = 0; t < touchedCount; t++) scratch[touched[t] as number] = 0
  return ranked
}

/** What one posting adds to its chunk's score, as bm25_search computes it. */
function share(idf: number, tf: number, k1: number, norm: number): number {
  return (idf * tf * (k1 + 1)) / (tf + norm)
}

/** Find the floor again only if the words left hold this many times the postings it reads. */
const PRUNE_CHECK_RATIO = 1

/**
 * Whether a chunk at `score` with at most `bound` still to come may score at least `floor`. Widened by a
 * billionth of the total: the bound is summed in another order than the score will be, and the rounding
 * of either sum (under 1e-13 of it for a thousand words) must not make a chunk that ties look short.
 */
function mayStillReach(score: number, bound: number, floor: number): boolean {
  return (score + bound) * (1 + 1e-9) >= floor
}

interface QueryWord {
  start: number
  end: number
  idf: number
  /** At least what any one posting of the word adds: idf times termBound. */
  bound: number
}

/** The terms of the query's distinct lexemes that the collection holds. */
function queryTerms(snapshot: Bm25Snapshot, lexemes: readonly string[]): number[] {
  return [...new Set(lexemes)].flatMap((lexeme) => {
    const term = snapshot.terms.get(lexeme)
    return term === undefined ? [] : [term]
  })
}

/** The query's distinct words the collection holds, highest bound (rarest) first. */
function queryWords(snapshot: Bm25Snapshot, lexemes: readonly string[], k1: number, b: number): QueryWord[] {
  const words: (QueryWord & { term: number })[] = []
  for (const term of queryTerms(snapshot, lexemes)) {
    const start = snapshot.termStart[term] as number
    const end = snapshot.termStart[term + 1] as number
    const df = end - start
    const idf = Math.log(1 + (snapshot.chunkCount - df + 0.5) / (df + 0.5))
    words.push({ start, end, idf, bound: idf * termBound(snapshot, term, k1, b), term })
  }
  return words.sort((x, y) => y.bound - x.bound || x.term - y.term)
}

/**
 * The most `tf · (k1 + 1) / (tf + norm)` of any posting of `term`: as computed at the build's k1 and b;
 * at others, at its highest tf and the norm of its shortest chunk (the expression grows with tf and
 * shrinks with the norm, in exact arithmetic and, every step being monotone, in floating point).
 */
export function termBound(snapshot: Bm25Snapshot, term: number, k1: number, b: number): number {
  const built = snapshot.termBound
  if (built.k1 === k1 && built.b === b) return built.values[term] as number
  const tf = snapshot.termMaxTf[term] as number
  const shortest = lengthNorm(snapshot.termMinLength[term] as number, snapshot.averageLength, k1, b)
  return saturation(tf, k1, shortest)
}

/** The `limit`-th highest score among the touched chunks; −∞ when fewer are touched. */
function kthScore(scratch: Float64Array, touched: Uint32Array, count: number, limit: number): number {
  if (limit <= 0 || count < limit) return Number.NEGATIVE_INFINITY
  const best = topChunks(scratch, touched, count, limit)
  return scratch[best.at(-1) as number] as number
}

/**
 * Each chunk's `k1 · (1 − b + b · length / average length)`, in the order of bm25_search's arithmetic, kept
 * for the last k1 and b asked for. (Scores agree with bm25_search's to about 1e-14, not to the bit: the
 * order of the sum differs, and JavaScript's Math.log and PostgreSQL's ln differ in the last bit for some
 * arguments.)
 */
function lengthNorms(snapshot: Bm25Snapshot, k1: number, b: number): Float64Array {
  const kept = snapshot.norms
  if (kept !== undefined && kept.k1 === k1 && kept.b === b) return kept.values
  const values = lengthNormsOf(snapshot.chunkLength, snapshot.averageLength, k1, b)
  snapshot.norms = { k1, b, values }
  return values
}

function lengthNormsOf(
  chunkLength: Float64Array,
  averageLength: number,
  k1: number,
  b: number,
): Float64Array {
  const values = new Float64Array(chunkLength.length)
  for (let c = 0; c < values.length; c++)
    values[c] = lengthNorm(chunkLength[c] as number, averageLength, k1, b)
  return values
}

/** `tf · (k1 + 1) / (tf + norm)`: a posting's share before idf (the bounds of termBound). */
function saturation(tf: number, k1: number, norm: number): number {
  return (tf * (k1 + 1)) / (tf + norm)
}

/** `k1 · (1 − b + b · length / average length)`, in the order of bm25_search's arithmetic. */
function lengthNorm(length: number, averageLength: number, k1: number, b: number): number {
  return k1 * (1 - b + (b * length) / averageLength)
}

/** The `limit` chunks of `chunks` (the first `count`) of highest score (then lowest id), best first. */
function topChunks(scratch: Float64Array, chunks: Uint32Array, count: number, limit: number): number[] {
  // Chunk indexes follow id order, so a lower index is a lower id.
  const worse = (a: number, b: number) =>
    (scratch[a] as number) < (scratch[b] as number) || (scratch[a] === scratch[b] && a > b)
  // A heap of the best `limit` so far, the worst of them at the root.
  const heap: number[] = []
  // The root's score once the heap is full: a chunk below it cannot enter (the common case, tested first).
  let floor = Number.NEGATIVE_INFINITY
  for (let i = 0; i < count; i++) {
    const chunk = chunks[i] as number
    if (heap.length < limit) {
      heap.push(chunk)
      let at = heap.length - 1
      while (at > 0) {
        const parent = (at - 1) >> 1
        if (!worse(heap[at] as number, heap[parent] as number)) break
        ;[heap[at], heap[parent]] = [heap[parent] as number, heap[at] as number]
        at = parent
      }
    } else if (limit > 0 && (scratch[chunk] as number) >= floor && worse(heap[0] as number, chunk)) {
      heap[0] = chunk
      let at = 0
      for (;;) {
        const left = 2 * at + 1
        const right = left + 1
        let smallest = at
        if (left < heap.length && worse(heap[left] as number, heap[smallest] as number)) smallest = left
        if (right < heap.length && worse(heap[right] as number, heap[smallest] as number)) smallest = right
        if (smallest === at) break
        ;[heap[at], heap[smallest]] = [heap[smallest] as number, heap[at] as number]
        at = smallest
      }
    }
    if (heap.length === limit) floor = scratch[heap[0] as number] as number
  }
  return heap.sort((a, b) => (worse(a, b) ? 1 : worse(b, a) ? -1 : 0))
}

/** A search's lexical arm through an in-process index: its ranking, and the index version it holds. */
export interface LexicalPlan {
  /** The collection's text version the index was built at: the rows must be read at it. */
  version: string
  /** Send the statements as named prepared statements. */
  prepared: boolean
  /** The ranking; undefined when the question's words hold too many postings (bm25_search ranks it). */
  rank(): Promise<RankedChunks | undefined>
  /** The rows were at `version`, not the index's: the index is dropped (and rebuilt later). */
  stale(version: string | undefined): void
}

/** Plans a search's lexical arm in process, or says it cannot (undefined: bm25_search answers). */
export type LexicalPlanner = (target: SearchTarget, options: PendingSearchOptions) => LexicalPlan | undefined

/**
 * The lexical arm through the in-process index, for runSearch: none (bm25_search answers) when the search
 * needs what the index does not hold (search syntax, filters) or when the collection has no index yet.
 */
export function memoryLexicalPlanner(db: Queryable, indexes: Bm25MemoryIndexes): LexicalPlanner {
  return (target, options) => {
    if (options.syntax !== 'words' || hasFilters(options.filters)) return undefined
    const snapshot = indexes.get(target.collectionId)
    if (snapshot === undefined) return undefined
    const prepared = indexes.preparedStatements
    return {
      version: snapshot.version,
      prepared,
      rank: async () => {
        const lexemes = await queryLexemes(db, target.textSearchConfig, options.query, prepared)
        if (queryPostings(snapshot, lexemes) > indexes.maxQueryPostings) return undefined
        return searchSnapshot(snapshot, lexemes, options.bm25.k1, options.bm25.b, options.candidates)
      },
      stale: (version) => indexes.stale(snapshot, version),
    }
  }
}

/** How many postings scoring these lexemes reads. */
export function queryPostings(snapshot: Bm25Snapshot, lexemes: readonly string[]): number {
  let total = 0
  for (const term of queryTerms(snapshot, lexemes))
    total += (snapshot.termStart[term + 1] as number) - (snapshot.termStart[term] as number)
  return total
}
