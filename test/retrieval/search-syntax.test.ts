import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { withoutExclusions } from '../../src/db/chunk-search.js'
import type { Database } from '../../src/db/pool.js'
import { searchOptionsFor, usesSearchSyntax } from '../../src/retrieval/retrieve.js'
import { RetrieveRequest } from '../../src/retrieval/types.js'
import { createTestDatabase } from '../support/test-db.js'
import { testRetrievalSettings } from './retrieval-deps.js'

const collection = { bm25: { k1: 0.9, b: 0.4 }, lexicalWeight: 0.8 }
const optionsFor = (fields: Record<string, unknown>) =>
  searchOptionsFor(
    RetrieveRequest.parse({ collection: 'c', ...fields }),
    testRetrievalSettings,
    undefined,
    collection,
  )

describe('when a query is search syntax', () => {
  it('takes " or " in a question as a word, in any case', () => {
    expect(usesSearchSyntax('Is coffee brewed hot or green tea chilled?')).toBe(false)
    expect(usesSearchSyntax('coffee OR tea')).toBe(false)
    expect(optionsFor({ query: 'Is A or B better?' })).toMatchObject({
      syntax: 'words',
      relaxWhenEmpty: true,
    })
  })

  it('takes quotes and a leading minus as syntax, but not a hyphen inside a word or a lone dash', () => {
    expect(usesSearchSyntax('"keep for a month"')).toBe(true)
    expect(usesSearchSyntax('tea -coffee')).toBe(true)
    expect(usesSearchSyntax('-coffee tea')).toBe(true)
    expect(usesSearchSyntax('well-known brands')).toBe(false)
    expect(usesSearchSyntax('tea - coffee')).toBe(false)
  })

  it('obeys the searchSyntax flag either way, and relaxes only when the flag is absent', () => {
    expect(optionsFor({ query: 'A or B', searchSyntax: true })).toMatchObject({
      syntax: 'websearch',
      relaxWhenEmpty: false,
    })
    expect(optionsFor({ query: '"A B"', searchSyntax: false })).toMatchObject({
      syntax: 'words',
      relaxWhenEmpty: false,
    })
    expect(optionsFor({ query: '"A B"' })).toMatchObject({ syntax: 'websearch', relaxWhenEmpty: true })
  })

  it('passes the BM25 candidate cap on, never below the arm candidates, and 0 as no cap', () => {
    const capped = (bm25MaxCandidates: number, k: number) =>
      searchOptionsFor(
        RetrieveRequest.parse({ collection: 'c', query: 'q', k }),
        { ...testRetrievalSettings, bm25MaxCandidates },
        undefined,
        collection,
      )
    expect(capped(4000, 10)).toMatchObject({ candidates: 40, lexicalMaxScored: 4000 })
    expect(capped(10, 50)).toMatchObject({ candidates: 200, lexicalMaxScored: 200 })
    expect(capped(0, 10).lexicalMaxScored).toBeNull()
  })
})

describe('the HNSW breadth of a request', () => {
  const settings = { ...testRetrievalSettings, minCandidates: 40, efSearchDefault: 128 }
  const at = (fields: Record<string, unknown>) =>
    searchOptionsFor(
      RetrieveRequest.parse({ collection: 'c', query: 'q', ...fields }),
      settings,
      undefined,
      collection,
    )

  it("is the vector arm's candidate count, at most EF_SEARCH_DEFAULT, unless the request names one", () => {
    expect(at({ k: 10 })).toMatchObject({ candidates: 40, efSearch: 40 })
    expect(at({ k: 20 })).toMatchObject({ candidates: 80, efSearch: 80 })
    expect(at({ k: 50 })).toMatchObject({ candidates: 200, efSearch: 128 })
    expect(at({ k: 100, kUnit: 'documents' })).toMatchObject({ candidates: 1000, efSearch: 128 })
    expect(at({ k: 10, efSearch: 300 })).toMatchObject({ candidates: 40, efSearch: 300 })
  })
})

describe("a web-search query's words without its exclusions", () => {
  let db: Database
  beforeAll(async () => {
    db = await createTestDatabase()
  })
  afterAll(async () => db?.close())

  /** The lexemes of websearch_to_tsquery's operands not under a `!`, as PostgreSQL prints the query. */
  function positiveLexemes(tsquery: string): string[] {
    const found: string[] = []
    // Each open group's negation; `!` before a group negates it, before a lexeme that lexeme.
    const groups: boolean[] = []
    let pending = false
    for (const token of tsquery.match(/'(?:[^']|'')*'|!|\(|\)/g) ?? []) {
      const negated = groups.includes(true)
      if (token === '!') pending = !pending
      else if (token === '(') {
        groups.push(pending)
        pending = false
      } else if (token === ')') groups.pop()
      else {
        if (!negated && !pending) found.push(token.slice(1, -1).replaceAll("''", "'"))
        pending = false
      }
    }
    return [...new Set(found)].sort()
  }

  it("leaves exactly the words PostgreSQL's websearch_to_tsquery does not exclude", async () => {
    const queries = [
      '"active voice" -passive',
      'promotions -"at midnight" other',
      '"foo -bar" baz',
      'well-known -x-ray brands',
      '-leading word',
      'cats -"dogs and birds',
      'tea - coffee milk',
      'teal or navy -blanket',
      "don't -can't won't",
      'plain words only',
    ]
    for (const query of queries) {
      const { rows } = await db.pool.query<{ query: string; words: string[] }>(
        `SELECT websearch_to_tsquery('english', $1)::text AS query,
           coalesce(tsvector_to_array(to_tsvector('english', $2)), '{}') AS words`,
        [query, withoutExclusions(query)],
      )
      const { query: parsed, words } = rows[0]!
      expect([query, [...words].sort()]).toEqual([query, positiveLexemes(parsed)])
    }
  })
})
