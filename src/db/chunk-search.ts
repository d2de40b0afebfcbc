import type pg from 'pg'
import pgvector from 'pgvector'
import type { ChunkInsert } from './chunks.js'
import { assertSafeInteger, vectorExpression } from './collections.js'
import { type Queryable, statement } from './transaction.js'

/** BM25 term-frequency saturation (k1) and length normalisation (b). */
export interface Bm25Parameters {
  k1: number
  b: number
}

/**
 * What the search needs to know about a collection; id and dimensions end up in the SQL text. Every
 * field is also checked against the collection row by the statements themselves (see guardClause), so
 * a description kept from an earlier lookup cannot silently search with stale settings.
 */
export interface SearchTarget {
  collectionId: number
  name: string
  embeddingModel: string
  embeddingDimensions: number
  textSearchConfig: string
  /** The collection's own ranking settings (a request may override them in SearchOptions). */
  bm25: Bm25Parameters
  lexicalWeight: number
}

/** What retrieval may filter on (document kind, source id prefix, metadata containment). */
interface ChunkFilters {
  kind?: 'guideline' | 'product'
  sourcePrefix?: string
  metadata?: Record<string, unknown>
}

export interface SearchOptions {
  query: string
  /**
   * `words`: chunks holding ANY of the query's words are ranked by BM25 (a natural-language question
   * rarely has every word in one chunk). `websearch`: chunks must also match websearch_to_tsquery
   * ("phrases", -exclusions, `or`, the other words all required); `relaxWhenEmpty` then falls back to
   * `words` when nothing matches.
   */
  syntax: 'words' | 'websearch'
  relaxWhenEmpty: boolean
  bm25: Bm25Parameters
  /** The lexical arm's share of the fused score, 0–1; the vector arm gets the rest. */
  lexicalWeight: number
  /** Absent: lexical only (no embedder, or no chunk embedded with the collection's model yet). */
  queryVector?: number[]
  /** Several sets are ANDed: a chunk passes only if it passes every one (a task's and a request's). */
  filters?: ChunkFilters | readonly ChunkFilters[]
  /** Rows each arm contributes before fusion. */
  candidates: number
  /**
   * The BM25 arm's candidate budget in postings (bm25_search's max_candidates, migrations 0006, 0018,
   * 0019): past it, the arm ranks exactly the chunks holding the query's rarest word or two of its rarer
   * words instead of all chunks. null: exact.
   */
  lexicalMaxScored: number | null
  /** Fused rows returned (with their text), best first. */
  limit: number
  efSearch: number
  maxScanTuples: number
  /** `relaxed_order` keeps scanning the HNSW graph until `candidates` rows pass the filters. */
  iterativeScan: 'relaxed_order' | 'off'
}

/** A fused row as the statement returns it: a stored chunk's columns, its document's, and both arms' results. */
export interface SearchRow extends Omit<ChunkInsert, 'embedding'> {
  id: number
  sourceId: string
  title: string
  kind: 'guideline' | 'product'
  metadata: Record<string, unknown>
  /** Cosine distance; null when the vector arm did not return the chunk. */
  distance: number | null
  vectorRank: number | null
  /** BM25 score; null when no word matched. */
  lexicalScore: number | null
  lexicalRank: number | null
  fused: number
  fusedRank: number
}

/** One arm's statement: its top candidates, each with the columns of its chunk and document. */
export interface ArmStatement {
  text: string
  values: unknown[]
}

/**
 * The statements of a search, one an arm: vector top-N through the collection's partial HNSW index,
 * BM25 top-N (the `bm25_search` function of migrations 0005, 0006 and 0016–0021). Absent: the arm does not
 * run: the vector arm without a query vector, the lexical arm at lexical weight 0 when the vector arm
 * runs (its rows could only fill places after every vector hit).
 *
 * Each statement returns its rows whole (chunk and document columns), so the two can run at once on two
 * connections of a pool (one after the other on a single connection: PGlite, a transaction's client),
 * and fusion (src/retrieval/search.ts) needs no third round trip. Each also re-checks the collection row it was
 * built from (`guard`): a cached description that went stale (renamed, deleted, re-weighted) makes
 * both arms return nothing, which the caller takes as the cue to look the collection up again.
 *
 * Two things are interpolated rather than bound, both integers from the collections row: the
 * collection id and the dimension count. A partial index is only usable when the planner can prove
 * its predicate (`collection_id = 7`) from the query, which a bind parameter in a generic plan
 * cannot do; and the expression must be the index's `embedding::vector(N)` exactly.
 *
 * Per-query HNSW settings ride in the same statement: `set_config(..., is_local => true)` in an
 * uncorrelated sub-select becomes a one-time filter (an InitPlan) that the executor evaluates before
 * it pulls the first row from the index scan, and pgvector reads `hnsw.*` when the scan starts. Being
 * local, the settings end with the statement's transaction and never leak to the next user of the
 * pooled connection. Tests prove both facts on PGlite and PostgreSQL.
 */
export function buildSearchStatements(
  target: SearchTarget,
  options: SearchOptions,
): { vector?: ArmStatement; lexical?: ArmStatement } {
  assertSafeInteger(target.collectionId)
  const runLexical = runsLexicalArm(options)
  return {
    ...(options.queryVector === undefined
      ? {}
      : { vector: vectorStatement(target, options, options.queryVector) }),
    ...(runLexical ? { lexical: lexicalStatement(target, options) } : {}),
  }
}

/** The BM25 arm runs unless the vector arm does and the lexical weight is 0. */
export function runsLexicalArm(
  options: Pick<PendingSearchOptions, 'queryVector' | 'lexicalWeight'>,
): boolean {
  return options.queryVector === undefined || options.lexicalWeight > 0
}

/** Bind parameters in order of mention; a parameter the statement never mentions would have no type. */
function parameters(): { values: unknown[]; param: (value: unknown, cast?: string) => string } {
  const values: unknown[] = []
  return {
    values,
    param: (value, cast = '') => {
      values.push(value)
      return `$${values.length}${cast}`
    },
  }
}

const ROW_COLUMNS = `c.id, c.document_id AS "documentId", c.ordinal, c.heading_path AS "headingPath", c.text,
    c.token_count AS "tokenCount", c.content_hash AS "contentHash", d.source_id AS "sourceId", d.title,
    d.kind, d.metadata`

/**
 * A one-time filter (an InitPlan, evaluated once before any row): the collection row still holds every
 * field of `target`. When it does not (renamed, deleted and recreated, re-weighted), the arm returns no
 * rows at all.
 */
function guardClause(target: SearchTarget, param: (value: unknown, cast?: string) => string): string {
  return `(SELECT EXISTS (SELECT 1 FROM collections g WHERE g.id = ${target.collectionId}
      AND g.name = ${param(target.name, '::text')} AND g.embedding_model = ${param(target.embeddingModel, '::text')}
      AND g.embedding_dimensions = ${target.embeddingDimensions}
      AND g.text_search_config = ${param(target.textSearchConfig, '::regconfig')}
      AND g.bm25_k1 = ${param(target.bm25.k1, '::float8')} AND g.bm25_b = ${param(target.bm25.b, '::float8')}
      AND g.lexical_weight = ${param(target.lexicalWeight, '::float8')}))`
}

function vectorStatement(
  target: SearchTarget,
  options: Omit<SearchOptions, 'queryVector'>,
  queryVector: number[],
  idsOnly = false,
): ArmStatement {
  const { values, param } = parameters()
  const filters = filterClauses(options.filters, param)
  const filterSql = filters.map((clause) => `\n        AND ${clause}`).join('')
  const syntaxSql = options.syntax === 'websearch' ? syntaxClause(target, options, filters, param) : ''
  const dims = target.embeddingDimensions
  const distance = `${vectorExpression(dims)} <=> ${param(pgvector.toSql(queryVector), `::vector(${dims})`)}`
  const settings = [
    `set_config('hnsw.ef_search', ${param(String(options.efSearch), '::text')}, true)`,
    `set_config('hnsw.iterative_scan', ${param(options.iterativeScan, '::text')}, true)`,
    `set_config('hnsw.max_scan_tuples', ${param(String(options.maxScanTuples), '::text')}, true)`,
  ].join(' || ')
  // The documents join inside the ordered scan only when a filter needs it, as before: the plan stays
  // Limit over the HNSW index scan; the 'candidates' rows found then get their document columns.
  const documentsJoin = filters.length > 0 ? 'JOIN documents d ON d.id = c.document_id' : ''
  const columns = idsOnly
    ? 'c.id'
    : 'c.id, c.document_id, c.ordinal, c.heading_path, c.text, c.token_count, c.content_hash'
  const text = `SELECT ${idsOnly ? 'c.id' : ROW_COLUMNS}, c.distance
    FROM (
      SELECT ${columns},
        ${distance} AS distance
      FROM chunks c ${documentsJoin}
      WHERE c.collection_id = ${target.collectionId}
        AND c.embedding_model = ${param(target.embeddingModel, '::text')}${filterSql}${syntaxSql}
        AND (SELECT ${settings}) IS NOT NULL
        AND ${guardClause(target, param)}
      ORDER BY ${distance}
      LIMIT ${param(options.candidates, '::int')}
    ) c${idsOnly ? '' : '\n    JOIN documents d ON d.id = c.document_id'}`
  return { text, values }
}

/**
 * Search syntax says which chunks may be returned, by either arm: the BM25 arm's must_match, and here
 * the vector arm's filter. A question with `-passive` must not get passages about the passive voice
 * from the vector arm. When the search may relax (syntax not asked for explicitly) and no chunk passing
 * the filters matches, the vector arm searches as if there were no syntax, as the BM25 arm then does (an
 * uncorrelated EXISTS: PostgreSQL evaluates it once, through the tsvector index; its `d` is its own).
 */
function syntaxClause(
  target: SearchTarget,
  options: Pick<SearchOptions, 'query' | 'relaxWhenEmpty'>,
  /** The statement's own filter clauses (on `d`, the documents): the EXISTS reuses their parameters. */
  filters: readonly string[],
  param: (value: unknown, cast?: string) => string,
): string {
  const tsquery = `websearch_to_tsquery(${param(target.textSearchConfig, '::regconfig')}, ${param(options.query, '::text')})`
  if (!options.relaxWhenEmpty) return `\n        AND c.tsv @@ ${tsquery}`
  const filterSql = filters.map((clause) => ` AND ${clause}`).join('')
  const documents = filters.length > 0 ? ' JOIN documents d ON d.id = m.document_id' : ''
  const anyMatch = `EXISTS (SELECT 1 FROM chunks m${documents}
          WHERE m.collection_id = ${target.collectionId}${filterSql} AND m.tsv @@ ${tsquery})`
  return `\n        AND (c.tsv @@ ${tsquery} OR NOT ${anyMatch})`
}

/**
 * The vector arm's candidates as ids and distances only: the same statement as the arm's, without the
 * chunks' text and documents (for a search that fetches the fused rows afterwards, fetchRankedRows).
 */
export async function vectorCandidates(
  db: Queryable,
  target: SearchTarget,
  options: Omit<SearchOptions, 'queryVector'>,
  queryVector: number[],
  prepared = false,
): Promise<{ id: number; distance: number }[]> {
  assertSafeInteger(target.collectionId)
  const { text, values } = vectorStatement(target, options, queryVector, true)
  // Prepared, PostgreSQL still plans it for each call's values: its generic plan (a LIMIT parameter taken
  // as 10% of the rows) is estimated far costlier than the custom ones, so the plan cache keeps those.
  const { rows } = await db.query<{ id: number; distance: number }>(statement(text, values, prepared))
  return rows
}

function lexicalStatement(target: SearchTarget, options: Omit<SearchOptions, 'queryVector'>): ArmStatement {
  const { values, param } = parameters()
  const config = param(target.textSearchConfig, '::regconfig')
  const query = param(options.query, '::text')
  const websearch = options.syntax === 'websearch'
  const mustMatch = websearch ? `websearch_to_tsquery(${config}, ${query})` : 'NULL::tsquery'
  // The words BM25 scores (and, relaxed, matches): an excluded word must not count for a chunk.
  const words = websearch ? param(withoutExclusions(options.query), '::text') : query
  // Every filter set applies (a task's and a request's): kinds must all equal, prefixes all match.
  const sets = filterSets(options.filters)
  const kinds = sets.flatMap((set) => (set.kind === undefined ? [] : [set.kind]))
  const prefixes = sets.flatMap((set) => (set.sourcePrefix === undefined ? [] : [set.sourcePrefix]))
  const metadata = sets.flatMap((set) =>
    set.metadata !== undefined && Object.keys(set.metadata).length > 0 ? [JSON.stringify(set.metadata)] : [],
  )
  const lexicalArgs = [
    String(target.collectionId),
    config,
    words,
    mustMatch,
    param(options.relaxWhenEmpty, '::boolean'),
    param(options.bm25.k1, '::float8'),
    param(options.bm25.b, '::float8'),
    param(options.candidates, '::int'),
    param(kinds, '::text[]'),
    param(prefixes, '::text[]'),
    param(metadata, '::jsonb[]'),
    param(options.lexicalMaxScored, '::int'),
  ].join(', ')
  const text = `SELECT ${ROW_COLUMNS}, s.bm25 AS score
    FROM bm25_search(${lexicalArgs}) s
    JOIN chunks c ON c.id = s.chunk_id
    JOIN documents d ON d.id = c.document_id
    WHERE ${guardClause(target, param)}`
  return { text, values }
}

/**
 * A web-search query without its exclusions (`-word`, `-"a phrase"`; a minus starting a word, outside
 * quotes), for the words BM25 scores: in a query that falls back to plain words (relaxWhenEmpty), `-passive`
 * must not make "passive" a word to look for. Exported for its tests.
 */
export function withoutExclusions(query: string): string {
  let out = ''
  let quoted = false
  for (let i = 0; i < query.length; i++) {
    const ch = query[i] as string
    if (ch === '"') quoted = !quoted
    const startsWord = i === 0 || /\s/.test(query[i - 1] as string)
    if (!quoted && ch === '-' && startsWord) {
      // Skip the excluded word, or phrase up to its closing quote (or the end); as websearch_to_tsquery
      // does, a minus followed by spaces excludes the next word.
      let end = i + 1
      while (end < query.length && /\s/.test(query[end] as string)) end++
      if (query[end] === '"') {
        const close = query.indexOf('"', end + 1)
        end = close === -1 ? query.length : close + 1
      } else {
        while (end < query.length && !/\s/.test(query[end] as string)) end++
      }
      out += ' '
      i = end - 1
      continue
    }
    out += ch
  }
  return out
}

/**
 * The chunks `ids`, in that order, with their documents, for a search ranked before its rows were read
 * (src/retrieval/search.ts, with the in-process BM25 index): read only if the collection's text is still
 * at `version` (migration 0022) and the collection row still says what `target` does (guardClause).
 * `textCurrent` false: the text changed since the index was built (or the collection is gone), nothing is
 * returned, and the caller searches again with SQL. `collectionCurrent` false: the collection row
 * changed, nothing is returned (as every arm statement then returns nothing).
 */
export async function fetchRankedRows(
  db: Queryable,
  target: SearchTarget,
  version: string,
  ids: readonly number[],
  prepared = false,
): Promise<{ textCurrent: boolean; textVersion?: string; collectionCurrent: boolean; rows: ArmRow[] }> {
  assertSafeInteger(target.collectionId)
  const { values, param } = parameters()
  const text = `SELECT s.version::text AS "textVersion", g.ok AS "collectionCurrent", r.*
    FROM (SELECT version FROM collection_text_stats WHERE collection_id = ${target.collectionId}) s
    CROSS JOIN (SELECT ${guardClause(target, param)} AS ok) g
    LEFT JOIN LATERAL (
      SELECT ${ROW_COLUMNS}, x.rank
      FROM unnest(${param(ids, '::bigint[]')}) WITH ORDINALITY x(id, rank)
      JOIN chunks c ON c.id = x.id
      JOIN documents d ON d.id = c.document_id
      WHERE s.version = ${param(version, '::bigint')} AND g.ok
    ) r ON true
    ORDER BY r.rank`
  type Row = ArmRow & { rank: number | null; textVersion: string; collectionCurrent: boolean }
  const { rows } = await db.query<Row>(statement(text, values, prepared))
  const textCurrent = rows[0]?.textVersion === version
  const collectionCurrent = rows[0]?.collectionCurrent === true
  return {
    textCurrent,
    ...(rows[0] === undefined ? {} : { textVersion: rows[0].textVersion }),
    collectionCurrent,
    rows:
      textCurrent && collectionCurrent
        ? rows.flatMap(({ textVersion: _v, collectionCurrent: _c, rank, ...row }) =>
            rank === null ? [] : [row],
          )
        : [],
  }
}

/** Whether any filter set restricts anything (kind, source prefix, metadata). */
export function hasFilters(filters: ChunkFilters | readonly ChunkFilters[] | undefined): boolean {
  return filterSets(filters).some(
    (set) =>
      set.kind !== undefined ||
      set.sourcePrefix !== undefined ||
      (set.metadata !== undefined && Object.keys(set.metadata).length > 0),
  )
}

/** A row as an arm's statement returns it: a stored chunk's columns and its document's. */
export type ArmRow = Omit<
  SearchRow,
  'distance' | 'vectorRank' | 'lexicalScore' | 'lexicalRank' | 'fused' | 'fusedRank'
>

/** Search options whose query vector may still be on its way (the query being embedded). */
export type PendingSearchOptions = Omit<SearchOptions, 'queryVector'> & {
  queryVector?: number[] | Promise<number[]>
}

/** Each arm's rows as its statement returned them; absent: the arm did not run. */
export interface ArmRows {
  vector?: (ArmRow & { distance: number })[]
  lexical?: (ArmRow & { score: number })[]
}

/**
 * Both arms' statements, at once when `db` is a pool with a second connection free (one after the other
 * on a single connection); fusion is the caller's (src/retrieval/search.ts).
 *
 * The BM25 arm needs no query vector, so it is sent at once, while the query is still being embedded;
 * the vector arm follows when the vector arrives. A failed embedding fails the search (the BM25 rows
 * are dropped). Sending the BM25 arm first also matters when the vector is at hand: sent second, it often
 * left only after the vector arm had finished (the backend woken by the first statement can take this
 * process's core until it is done; at 100k chunks vector-first measured no faster than one arm after the other).
 */
export async function searchArms(
  db: Queryable,
  target: SearchTarget,
  options: PendingSearchOptions,
): Promise<ArmRows> {
  assertSafeInteger(target.collectionId)
  const run = <T extends pg.QueryResultRow>(statement: ArmStatement) =>
    db.query<T>(statement.text, statement.values).then((result) => result.rows)
  const lexicalRows = runsLexicalArm(options)
    ? run<ArmRow & { score: number }>(lexicalStatement(target, options))
    : undefined
  // Handled here at once: if it failed while the query is still being embedded, the rejection would
  // otherwise count as unhandled. Promise.all below still sees it.
  lexicalRows?.catch(() => {})
  const vectorRows =
    options.queryVector === undefined
      ? undefined
      : run<ArmRow & { distance: number }>(vectorStatement(target, options, await options.queryVector))
  const [vector, lexical] = await Promise.all([vectorRows, lexicalRows])
  return { ...(vector === undefined ? {} : { vector }), ...(lexical === undefined ? {} : { lexical }) }
}

function filterSets(filters: ChunkFilters | readonly ChunkFilters[] | undefined): readonly ChunkFilters[] {
  return filters === undefined ? [] : Array.isArray(filters) ? filters : [filters as ChunkFilters]
}

/**
 * Every value is a bind parameter; only the clause shapes vary with which filters are present. Each
 * set adds its own clauses rather than being merged with the others, so two sets that disagree (kind
 * `guideline` and kind `product`) match nothing instead of one overriding the other.
 */
function filterClauses(
  filters: ChunkFilters | readonly ChunkFilters[] | undefined,
  param: (value: unknown, cast?: string) => string,
): string[] {
  const sets = filterSets(filters)
  const clauses: string[] = []
  for (const set of sets) {
    if (set.kind !== undefined) clauses.push(`d.kind = ${param(set.kind, '::text')}`)
    // starts_with, not LIKE: a prefix holding % or _ must match literally, with no escaping to get wrong.
    if (set.sourcePrefix !== undefined) {
      clauses.push(`starts_with(d.source_id, ${param(set.sourcePrefix, '::text')})`)
    }
    if (set.metadata !== undefined && Object.keys(set.metadata).length > 0) {
      clauses.push(`d.metadata @> ${param(JSON.stringify(set.metadata), '::jsonb')}`)
    }
  }
  return clauses
}

export interface SearchableCollection extends SearchTarget {
  /** Whether any chunk carries an embedding from the collection's model; if not, search is lexical. */
  hasEmbeddings: boolean
}

/**
 * The collection row plus whether it has comparable embeddings, in one query: knowing that before
 * embedding the query saves a model call for collections that are still lexical-only.
 */
export async function findSearchableCollection(
  db: Queryable,
  name: string,
): Promise<SearchableCollection | undefined> {
  const { rows } = await db.query<SearchableCollection>(
    `SELECT col.id AS "collectionId", col.name, col.embedding_model AS "embeddingModel",
       col.embedding_dimensions AS "embeddingDimensions", col.text_search_config::text AS "textSearchConfig",
       json_build_object('k1', col.bm25_k1, 'b', col.bm25_b) AS bm25,
       col.lexical_weight AS "lexicalWeight",
       EXISTS (
         SELECT 1 FROM chunks c
         WHERE c.collection_id = col.id AND c.embedding IS NOT NULL AND c.embedding_model = col.embedding_model
       ) AS "hasEmbeddings"
     FROM collections col WHERE col.name = $1`,
    [name],
  )
  return rows[0]
}
