import type { Config } from '../config.js'
import {
  findSearchableCollection,
  type SearchableCollection,
  type SearchOptions,
  type SearchRow,
} from '../db/chunk-search.js'
import type { Queryable } from '../db/transaction.js'
import type { Embedder, EmbedderFactory } from '../embedding/embedder.js'
import {
  EmbeddingConnectionError,
  EmbeddingDimensionError,
  EmbeddingProviderError,
} from '../embedding/openai-embedder.js'
import { AppError } from '../errors.js'
import { type Metrics, observeRetrieval } from '../observability/metrics.js'
import { type Bm25MemoryIndexes, memoryLexicalPlanner } from './bm25-memory-index.js'
import { type CollectionCache, sameCollection } from './collection-cache.js'
import { type CandidateChunk, packPassages } from './packing.js'
import { type QueryEmbeddingCache, queryEmbeddingKey } from './query-embedding-cache.js'
import { runSearch, type SearchResult } from './search.js'
import { RetrievalFilters, type RetrievalResult, type RetrieveInput, RetrieveRequest } from './types.js'

export interface RetrievalSettings {
  /** Floor on candidates per arm; the actual count is max(4k, this). */
  minCandidates: number
  /** Largest ef_search a request that names none gets: it gets the vector arm's candidate count, up to this. */
  efSearchDefault: number
  efSearchMax: number
  maxScanTuples: number
  /** Most chunks the BM25 arm scores per query; 0: exact BM25 however many chunks that takes. */
  bm25MaxCandidates: number
}

export interface RetrievalDeps {
  db: Queryable
  embedders: EmbedderFactory
  queryEmbeddingCache?: QueryEmbeddingCache
  /** Collections as last looked up; absent: every retrieval looks its collection up. */
  collectionCache?: CollectionCache
  settings: RetrievalSettings
  /** Where each retrieval's latency is recorded; absent in callers without an app (CLI, some tests). */
  metrics?: Metrics
  /** In-process BM25 indexes of large collections (bm25-memory-index.ts); absent: bm25_search always. */
  bm25Indexes?: Bm25MemoryIndexes
}

export function retrievalSettingsFromConfig(config: Config): RetrievalSettings {
  return {
    minCandidates: config.RETRIEVAL_CANDIDATES,
    efSearchDefault: config.EF_SEARCH_DEFAULT,
    efSearchMax: config.EF_SEARCH_MAX,
    maxScanTuples: config.HNSW_MAX_SCAN_TUPLES,
    bm25MaxCandidates: config.BM25_MAX_CANDIDATES,
  }
}

const MAX_CANDIDATES = 1000

/**
 * Hybrid retrieval for one query: vector and full-text search fused by weighted z-scores, filtered,
 * packed into a token budget. Knows nothing of HTTP; the caller checks the key's collection
 * allowlist before calling. Throws AppError validation_failed / not_found / upstream_error.
 */
export async function retrieve(deps: RetrievalDeps, input: RetrieveInput): Promise<RetrievalResult> {
  const started = performance.now()
  const { request, scopeFilters } = parseInput(input, deps.settings)
  const cached = deps.collectionCache?.get(request.collection)
  let found = await search(
    deps,
    request,
    scopeFilters,
    cached ?? (await lookUp(deps, request.collection)),
    input,
  )
  // The statements return nothing when the collection row no longer says what the cached entry does
  // (chunk-search.ts, guardClause), and an arm also finds nothing when the collection lost its
  // embeddings: after an empty arm, a cached collection is looked up again and, if it changed, searched anew.
  if (cached !== undefined && (found.search.vectorCount === 0 || found.search.lexicalCount === 0)) {
    const fresh = await lookUp(deps, request.collection)
    if (!sameCollection(fresh, cached)) found = await search(deps, request, scopeFilters, fresh, input)
  }
  const packed = packPassages(found.search.rows.map(toCandidate), {
    k: request.k,
    kUnit: request.kUnit,
    budgetTokens: request.budgetTokens,
  })
  observeRetrieval(deps.metrics, { latencyMs: performance.now() - started, mode: found.mode })
  return { mode: found.mode, ...packed }
}

async function lookUp(deps: RetrievalDeps, name: string): Promise<SearchableCollection> {
  const collection = await findSearchableCollection(deps.db, name)
  if (collection === undefined) {
    deps.collectionCache?.delete(name)
    throw new AppError('not_found', `No collection named "${name}".`)
  }
  deps.collectionCache?.set(collection)
  return collection
}

async function search(
  deps: RetrievalDeps,
  request: RetrieveRequest,
  scopeFilters: RetrievalFilters | undefined,
  collection: SearchableCollection,
  input: RetrieveInput,
): Promise<{ mode: RetrievalResult['mode']; search: SearchResult }> {
  // Vectors are only comparable within one model: without an embedder for the collection's model,
  // or before any chunk has an embedding from it, the search is lexical only. So it is at lexical
  // weight 1, where the vector arm could only reorder what BM25 did not find: no query embedding then.
  // At weight 0 the BM25 arm does not run (buildSearchStatements): vector mode.
  const lexicalWeight = request.lexicalWeight ?? collection.lexicalWeight
  const embedder =
    collection.hasEmbeddings && lexicalWeight < 1
      ? deps.embedders(collection.embeddingModel, collection.embeddingDimensions)
      : undefined
  input.signal?.throwIfAborted()
  // Not awaited here: the BM25 arm is sent while the query is being embedded (runSearch awaits it at once).
  const queryVector = embedder
    ? embedQuery(deps, embedder, request.query, input.signal).then((vector) => {
        input.signal?.throwIfAborted()
        return vector
      })
    : undefined

  const options = {
    ...searchOptionsFor(request, deps.settings, undefined, collection, scopeFilters),
    queryVector,
  }
  const lexical = deps.bm25Indexes ? memoryLexicalPlanner(deps.db, deps.bm25Indexes) : undefined
  const found = await runSearch(deps.db, collection, options, lexical)
  const mode = found.lexicalCount === null ? 'vector' : found.vectorCount === null ? 'lexical' : 'hybrid'
  return { mode, search: found }
}

/** The search options retrieve() sends for a request; exported so the benchmark sends the same SQL. */
export function searchOptionsFor(
  request: RetrieveRequest,
  settings: RetrievalSettings,
  queryVector: number[] | undefined,
  collection: Pick<SearchableCollection, 'bm25' | 'lexicalWeight'>,
  scopeFilters?: RetrievalFilters,
): SearchOptions {
  // Counting documents needs more chunks per arm: a document often ranks with several of its chunks.
  const wanted = request.kUnit === 'documents' ? request.k * 3 : request.k
  const candidates = Math.min(MAX_CANDIDATES, Math.max(wanted * 4, settings.minCandidates))
  const syntax = request.searchSyntax ?? usesSearchSyntax(request.query)
  return {
    query: request.query,
    syntax: syntax ? 'websearch' : 'words',
    relaxWhenEmpty: request.searchSyntax === undefined,
    bm25: collection.bm25,
    lexicalWeight: request.lexicalWeight ?? collection.lexicalWeight,
    queryVector,
    filters: [scopeFilters, request.filters].filter((set) => set !== undefined),
    candidates,
    // Never below the arm's own candidate count: the cap bounds work, it must not starve the answer.
    lexicalMaxScored:
      settings.bm25MaxCandidates === 0 ? null : Math.max(settings.bm25MaxCandidates, candidates),
    // Headroom over k so dropped duplicates and over-budget chunks can be replaced.
    limit: Math.min(2 * candidates, 3 * wanted),
    // HNSW's breadth sized to what the arm returns (an index scan yields its ef_search best): at k 10,
    // the 40 of LangChain and pgvector's default; EF_SEARCH_DEFAULT bounds it for large k, where the
    // iterative scan supplies the rest. Recall and time of each at 100k chunks: BENCHMARKS.md.
    efSearch: request.efSearch ?? Math.min(settings.efSearchDefault, candidates),
    maxScanTuples: settings.maxScanTuples,
    iterativeScan: 'relaxed_order',
  }
}

/**
 * Unambiguous websearch_to_tsquery syntax: "quoted phrases" and -exclusions. A plain " or " is not
 * taken as the operator: in a question ("is A or B better?") it is a word.
 */
export function usesSearchSyntax(query: string): boolean {
  return /"|(^|\s)-[^\s-]/.test(query)
}

function parseInput(
  input: RetrieveInput,
  settings: RetrievalSettings,
): { request: RetrieveRequest; scopeFilters?: RetrievalFilters } {
  const { signal: _signal, scopeFilters: scope, ...fields } = input
  const parsed = RetrieveRequest.safeParse(fields)
  const parsedScope = scope === undefined ? undefined : RetrievalFilters.safeParse(scope)
  const issues = [
    ...(parsed.success ? [] : parsed.error.issues),
    ...(parsedScope === undefined || parsedScope.success
      ? []
      : parsedScope.error.issues.map((issue) => ({ ...issue, path: ['scopeFilters', ...issue.path] }))),
  ]
  const errors = issues.map((issue) => ({
    path: issue.path.map(String).join('.') || '(root)',
    message: issue.message,
  }))
  if (parsed.success && parsed.data.efSearch !== undefined && parsed.data.efSearch > settings.efSearchMax) {
    errors.push({ path: 'efSearch', message: `must be at most ${settings.efSearchMax} on this server` })
  }
  if (!parsed.success || errors.length > 0) {
    throw new AppError('validation_failed', 'The retrieval request is invalid.', { errors })
  }
  return { request: parsed.data, ...(parsedScope?.success ? { scopeFilters: parsedScope.data } : {}) }
}

async function embedQuery(
  deps: RetrievalDeps,
  embedder: Embedder,
  query: string,
  signal: AbortSignal | undefined,
): Promise<number[]> {
  // The shared (cached) call is not tied to one caller's signal: another request may be waiting on it.
  // A connection that failed (a reset, a keep-alive socket the provider had closed) is tried once more at
  // once; anything the provider answered is not.
  const compute = () =>
    embedder.embedQuery(query).catch((error: unknown) => {
      if (error instanceof EmbeddingConnectionError) return embedder.embedQuery(query)
      throw error
    })
  const key = queryEmbeddingKey(embedder.model, embedder.dimensions, query)
  const pending = deps.queryEmbeddingCache ? deps.queryEmbeddingCache.getOrCompute(key, compute) : compute()
  let vector: number[]
  try {
    vector = await abortable(pending, signal)
  } catch (error) {
    if (error instanceof AppError || signal?.aborted) throw error
    if (error instanceof EmbeddingDimensionError) throw wrongDimensions(error.actual, error.expected)
    // The embedder's errors are worded for clients (no provider text); anything else is not.
    const known = error instanceof EmbeddingProviderError ? error : undefined
    const why = known ? ` ${known.message}` : ''
    throw new AppError(
      known?.timedOut ? 'upstream_timeout' : 'upstream_error',
      `The embedding model failed to embed the query.${why} Retry shortly.`,
    )
  }
  if (vector.length !== embedder.dimensions) throw wrongDimensions(vector.length, embedder.dimensions)
  return vector
}

function wrongDimensions(actual: number, expected: number): AppError {
  return new AppError('upstream_error', `The embedding model returned ${actual} dimensions, not ${expected}.`)
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise
  signal.throwIfAborted()
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

/** A fused row as packing takes it (exported for the latency benchmark's floor, bench/support/latency-floor.ts). */
export function toCandidate(row: SearchRow): CandidateChunk {
  const { distance, ...rest } = row
  return { ...rest, vectorScore: distance === null ? null : 1 - distance }
}
