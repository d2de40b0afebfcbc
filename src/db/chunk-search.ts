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

/** What retrieval may filter on (document kind, source id prefix, metadata containment). */
interface ChunkFilters {
  kind?: 'guideline' | 'product'
  sourcePrefix?: string
  metadata?: Record<string, unknown>
}

export interface SearchOptions {
  query: string
  /**
   * Match chunks holding ANY of the query's words (ranked by ts_rank_cd, so more words rank higher)
   * instead of websearch_to_tsquery's ALL: a natural-language question rarely has every word in one
   * chunk. Off when the query uses search syntax ("phrases", -exclusions, or), which is then obeyed.
   */
  matchAny: boolean
  /** Absent: lexical only (no embedder, or no chunk embedded with the collection's model yet). */
  queryVector?: number[]
  /** Several sets are ANDed: a chunk passes only if it passes every one (a task's and a request's). */
  filters?: ChunkFilters | readonly ChunkFilters[]
  /** Rows each arm contributes before fusion. */
  candidates: number
  /** Fused rows returned (with their text), best first. */
  limit: number
  rrfK: number
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
  /** ts_rank_cd / (1 + ts_rank_cd); null when no word matched. */
  lexicalScore: number | null
  lexicalRank: number | null
  fused: number
}

/**
 * The whole search as ONE statement: vector top-N through the collection's partial HNSW index,
 * full-text top-N, reciprocal rank fusion and the fetch of the winning rows.
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
  const filters = filterClauses(options.filters, param)
  const documentsJoin = filters.length > 0 ? 'JOIN documents d ON d.id = c.document_id' : ''
  const filterSql = filters.map((clause) => `\n        AND ${clause}`).join('')
  const candidates = param(options.candidates, '::int')

  let vectorArm = 'SELECT NULL::bigint AS id, NULL::float8 AS distance, NULL::bigint AS rank WHERE false'
  if (options.queryVector !== undefined) {
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

  const parsed = `websearch_to_tsquery(${param(target.textSearchConfig, '::regconfig')}, ${param(options.query, '::text')})`
  // The text form of a tsquery joins terms with ' & '; lexemes inside quotes can't contain that sequence
  // unescaped, so swapping the operator turns the AND of the words into an OR.
  const tsQuery = options.matchAny ? `replace(${parsed}::text, ' & ', ' | ')::tsquery` : parsed
  const k = param(options.rrfK, '::float8')
  const text = `WITH vector_arm AS MATERIALIZED (
    ${vectorArm}
  ),
  lexical_arm AS MATERIALIZED (
    SELECT id, score, row_number() OVER (ORDER BY score DESC, id) AS rank
    FROM (
      SELECT c.id, ts_rank_cd(c.tsv, q.query, 32) AS score
      FROM chunks c ${documentsJoin}, (SELECT ${tsQuery} AS query) q
      WHERE ${collection}
        AND c.tsv @@ q.query${filterSql}
      ORDER BY score DESC, c.id
      LIMIT ${candidates}
    ) matched
  ),
  fused AS (
    SELECT coalesce(v.id, l.id) AS id, v.distance, v.rank AS vector_rank, l.score AS lexical_score,
      l.rank AS lexical_rank,
      coalesce(1 / (${k} + v.rank), 0) + coalesce(1 / (${k} + l.rank), 0) AS fused
    FROM vector_arm v FULL JOIN lexical_arm l ON l.id = v.id
    ORDER BY fused DESC, least(v.rank, l.rank), coalesce(v.id, l.id)
    LIMIT ${param(options.limit, '::int')}
  )
  SELECT c.id, c.document_id AS "documentId", c.ordinal, c.heading_path AS "headingPath", c.text,
    c.token_count AS "tokenCount", c.content_hash AS "contentHash", d.source_id AS "sourceId", d.title,
    d.kind, d.metadata, f.distance, f.vector_rank AS "vectorRank", f.lexical_score AS "lexicalScore",
    f.lexical_rank AS "lexicalRank", f.fused
  FROM fused f
  JOIN chunks c ON c.id = f.id
  JOIN documents d ON d.id = c.document_id
  ORDER BY f.fused DESC, least(f.vector_rank, f.lexical_rank), f.id`
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

/**
 * Every value is a bind parameter; only the clause shapes vary with which filters are present. Each
 * set adds its own clauses rather than being merged with the others, so two sets that disagree (kind
 * `guideline` and kind `product`) match nothing instead of one overriding the other.
 */
function filterClauses(
  filters: ChunkFilters | readonly ChunkFilters[] | undefined,
  param: (value: unknown, cast?: string) => string,
): string[] {
  const sets: readonly ChunkFilters[] =
    filters === undefined ? [] : Array.isArray(filters) ? filters : [filters]
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
       EXISTS (
         SELECT 1 FROM chunks c
         WHERE c.collection_id = col.id AND c.embedding IS NOT NULL AND c.embedding_model = col.embedding_model
       ) AS "hasEmbeddings"
     FROM collections col WHERE col.name = $1`,
    [name],
  )
  return rows[0]
}
