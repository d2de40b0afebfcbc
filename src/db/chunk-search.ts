import pgvector from 'pgvector'
import type { ChunkInsert } from './chunks.js'
import { assertSafeInteger, vectorExpression } from './collections.js'
import type { Queryable } from './transaction.js'

/** What the search needs to know about a collection; id and dimensions end up in the SQL text. */
export interface SearchTarget {
  collectionId: number
  embeddingModel: string
  embeddingDimensions: number
  textSearchConfig: string
}

/** BM25 term-frequency saturation (k1) and length normalisation (b). */
export interface Bm25Parameters {
  k1: number
  b: number
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
   * Most chunks the BM25 arm scores (bm25_search's max_candidates, migration 0006): past it, the arm
   * ranks the chunks holding the query's rarest words exactly instead of all chunks. null: exact.
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

/**
 * The whole search as ONE statement: vector top-N through the collection's partial HNSW index,
 * BM25 top-N (the `bm25_search` function of migrations 0005, 0006 and 0016), fusion by weighted z-scores and the
 * fetch of the winning rows.
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
 *
 * Fusion (see fusion.ts for the definition the tests compare with): each arm's scores become z-scores
 * over that arm's candidates (BM25 scores and cosine similarities live on unrelated scales); a chunk
 * an arm did not return gets that arm's lowest z-score; the fused score is the weighted sum.
 */
export function buildSearchQuery(
  target: SearchTarget,
  options: SearchOptions,
): { text: string; values: unknown[] } {
  assertSafeInteger(target.collectionId)
  const values: unknown[] = []
  const param = (value: unknown, cast = ''): string => {
    values.push(value)
    return `$${values.length}${cast}`
  }
  const collection = `c.collection_id = ${target.collectionId}`
  const candidates = param(options.candidates, '::int')

  let vectorArm = 'SELECT NULL::bigint AS id, NULL::float8 AS distance, NULL::bigint AS rank WHERE false'
  if (options.queryVector !== undefined) {
    // Bound only when the arm uses them: a parameter the statement never mentions has no type.
    const filters = filterClauses(options.filters, param)
    const documentsJoin = filters.length > 0 ? 'JOIN documents d ON d.id = c.document_id' : ''
    const filterSql = filters.map((clause) => `\n        AND ${clause}`).join('')
    const dims = target.embeddingDimensions
    const distance = `${vectorExpression(dims)} <=> ${param(pgvector.toSql(options.queryVector), `::vector(${dims})`)}`
    const settings = [
      `set_config('hnsw.ef_search', ${param(String(options.efSearch), '::text')}, true)`,
      `set_config('hnsw.iterative_scan', ${param(options.iterativeScan, '::text')}, true)`,
      `set_config('hnsw.max_scan_tuples', ${param(String(options.maxScanTuples), '::text')}, true)`,
    ].join(' || ')
    vectorArm = `SELECT id, distance, row_number() OVER (ORDER BY distance, id) AS rank
    FROM (
      SELECT c.id, ${distance} AS distance
      FROM chunks c ${documentsJoin}
      WHERE ${collection}
        AND c.embedding_model = ${param(target.embeddingModel, '::text')}${filterSql}
        AND (SELECT ${settings}) IS NOT NULL
      ORDER BY ${distance}
      LIMIT ${candidates}
    ) nearest`
  }

  const config = param(target.textSearchConfig, '::regconfig')
  const query = param(options.query, '::text')
  const mustMatch =
    options.syntax === 'websearch' ? `websearch_to_tsquery(${config}, ${query})` : 'NULL::tsquery'
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
    query,
    mustMatch,
    param(options.relaxWhenEmpty, '::boolean'),
    param(options.bm25.k1, '::float8'),
    param(options.bm25.b, '::float8'),
    candidates,
    param(kinds, '::text[]'),
    param(prefixes, '::text[]'),
    param(metadata, '::jsonb[]'),
    param(options.lexicalMaxScored, '::int'),
  ].join(', ')
  const lexicalWeight = param(options.lexicalWeight, '::float8')
  const text = `WITH vector_arm AS MATERIALIZED (
    ${vectorArm}
  ),
  lexical_arm AS MATERIALIZED (
    SELECT chunk_id AS id, bm25 AS score, row_number() OVER (ORDER BY bm25 DESC, chunk_id) AS rank
    FROM bm25_search(${lexicalArgs})
  ),
  vector_z AS (
    SELECT id, distance, rank, (1 - distance - avg(1 - distance) OVER ()) / nullif(stddev_pop(1 - distance) OVER (), 0) AS z
    FROM vector_arm
  ),
  lexical_z AS (
    SELECT id, score, rank, (score - avg(score) OVER ()) / nullif(stddev_pop(score) OVER (), 0) AS z
    FROM lexical_arm
  ),
  fused AS (
    SELECT coalesce(v.id, l.id) AS id, v.distance, v.rank AS vector_rank, l.score AS lexical_score,
      l.rank AS lexical_rank,
      (1 - ${lexicalWeight}) * coalesce(v.z, (SELECT min(z) FROM vector_z), 0)
        + ${lexicalWeight} * coalesce(l.z, (SELECT min(z) FROM lexical_z), 0) AS fused
    FROM vector_z v FULL JOIN lexical_z l ON l.id = v.id
  ),
  ranked AS (
    SELECT f.*, row_number() OVER (ORDER BY fused DESC, least(vector_rank, lexical_rank), id) AS fused_rank
    FROM fused f
  )
  SELECT c.id, c.document_id AS "documentId", c.ordinal, c.heading_path AS "headingPath", c.text,
    c.token_count AS "tokenCount", c.content_hash AS "contentHash", d.source_id AS "sourceId", d.title,
    d.kind, d.metadata, r.distance, r.vector_rank AS "vectorRank", r.lexical_score AS "lexicalScore",
    r.lexical_rank AS "lexicalRank", r.fused, r.fused_rank AS "fusedRank"
  FROM ranked r
  JOIN chunks c ON c.id = r.id
  JOIN documents d ON d.id = c.document_id
  WHERE r.fused_rank <= ${param(options.limit, '::int')}
  ORDER BY r.fused_rank`
  return { text, values }
}

export async function searchChunks(
  db: Queryable,
  target: SearchTarget,
  options: SearchOptions,
): Promise<SearchRow[]> {
  const { text, values } = buildSearchQuery(target, options)
  const { rows } = await db.query<SearchRow>(text, values)
  return rows
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
  name: string
  bm25: Bm25Parameters
  lexicalWeight: number
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
