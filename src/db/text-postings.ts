import { type Queryable, statement } from './transaction.js'

/**
 * What the in-process BM25 index (src/retrieval/bm25-memory-index.ts) reads: a collection's text
 * statistics with their version (migrations 0005, 0022), its chunks' words page by page, a query's words.
 */

/** A collection's text statistics as bm25_search reads them, plus their version and total postings. */
export interface TextStats {
  chunkCount: number
  wordCount: number
  /** Rises with every change to the collection's indexed text (migration 0022); a bigint, kept as text. */
  version: string
  /** (chunk, word) pairs: the sum of the collection's document frequencies. */
  postings: number
  /** Distinct words. */
  terms: number
  /** The collection's BM25 parameters now (for bounds the index computes as it is built). */
  k1: number
  b: number
}

export async function readTextStats(db: Queryable, collectionId: number): Promise<TextStats | undefined> {
  const { rows } = await db.query<TextStats>(
    `SELECT s.chunk_count::float8 AS "chunkCount", s.word_count::float8 AS "wordCount", s.version::text AS version,
       t.postings, t.terms, col.bm25_k1 AS k1, col.bm25_b AS b
     FROM collection_text_stats s JOIN collections col ON col.id = s.collection_id CROSS JOIN LATERAL (
       SELECT coalesce(sum(t.chunk_count), 0)::float8 AS postings, count(*)::float8 AS terms
       FROM collection_terms t WHERE t.collection_id = s.collection_id
     ) t
     WHERE s.collection_id = $1`,
    [collectionId],
  )
  return rows[0]
}

export async function readTextVersion(db: Queryable, collectionId: number): Promise<string | undefined> {
  const { rows } = await db.query<{ version: string }>(
    'SELECT version::text AS version FROM collection_text_stats WHERE collection_id = $1',
    [collectionId],
  )
  return rows[0]?.version
}

/** One chunk's words: its tsvector as PostgreSQL prints it (see forEachLexeme), and its BM25 length. */
export interface ChunkPostings {
  id: number
  /** BM25 length (chunks.word_count). */
  length: number
  tsv: string
}

/**
 * The next `limit` chunks of the collection after chunk id `afterId`, in id order. The tsvector travels as
 * text: printing it costs the server less than unnesting it (2.2 vs 5 s for 100k chunks), and
 * forEachLexeme reads it faster than pg parses arrays.
 */
export async function readPostingsPage(
  db: Queryable,
  collectionId: number,
  afterId: number,
  limit: number,
): Promise<ChunkPostings[]> {
  const { rows } = await db.query<ChunkPostings>(
    `SELECT c.id::float8 AS id, c.word_count AS length, c.tsv::text AS tsv
     FROM chunks c WHERE c.collection_id = $1 AND c.id > $2 ORDER BY c.id LIMIT $3`,
    [collectionId, afterId, limit],
  )
  return rows
}

/**
 * Each lexeme of a tsvector's text form with its term frequency as bm25_search counts it: the number of
 * positions, at least 1. The form (tsvectorout): lexemes in single quotes, a quote or backslash inside
 * doubled, each followed by `:` and comma-separated positions (a weight letter after some) unless it has
 * none, separated by single spaces.
 */
export function forEachLexeme(text: string, visit: (lexeme: string, tf: number) => void): void {
  let at = 0
  const end = text.length
  while (at < end) {
    if (text.charCodeAt(at) !== 39) throw new Error(`unexpected tsvector text at offset ${at}`)
    let lexeme = ''
    let from = at + 1
    for (;;) {
      const quote = text.indexOf("'", from)
      if (quote < 0) throw new Error('unterminated lexeme in tsvector text')
      if (text.charCodeAt(quote + 1) === 39) {
        lexeme += text.slice(from, quote + 1)
        from = quote + 2
        continue
      }
      lexeme += text.slice(from, quote)
      at = quote + 1
      break
    }
    if (lexeme.includes('\\')) lexeme = lexeme.replaceAll('\\\\', '\\')
    let tf = 1
    if (text.charCodeAt(at) === 58) {
      let space = text.indexOf(' ', at)
      if (space < 0) space = end
      for (let i = at + 1; i < space; i++) if (text.charCodeAt(i) === 44) tf++
      at = space
    }
    visit(lexeme, tf)
    at++
  }
}

const LEXEMES =
  'SELECT array(SELECT DISTINCT u.lexeme FROM unnest(to_tsvector($1::regconfig, $2::text)) u) AS lexemes'

/** The distinct lexemes of a query under a text search configuration (bm25_search's first step). */
export async function queryLexemes(
  db: Queryable,
  config: string,
  query: string,
  prepared = false,
): Promise<string[]> {
  const { rows } = await db.query<{ lexemes: string[] }>(statement(LEXEMES, [config, query], prepared))
  return rows[0]?.lexemes ?? []
}
