import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  buildSearchStatements,
  findSearchableCollection,
  type SearchableCollection,
  type SearchOptions,
} from '../../src/db/chunk-search.js'
import { hnswIndexName } from '../../src/db/collections.js'
import type { Database } from '../../src/db/pool.js'
import type { EmbedderFactory } from '../../src/embedding/embedder.js'
import { retrieve } from '../../src/retrieval/retrieve.js'
import { searchChunks } from '../../src/retrieval/search.js'
import { seedCollection } from '../support/seed-chunks.js'
import { createTestDatabase, usingRealPostgres } from '../support/test-db.js'
import { testRetrievalSettings } from './retrieval-deps.js'

const DIMS = 32
const DOCUMENTS = 1500
// One document in 50 is a product: 30 of them, so a filter on kind keeps 2% of the chunks.
const isProduct = (i: number) => i % 50 === 7

let db: Database
let collection: SearchableCollection

function seededRandom(seed: number): () => number {
  let state = seed
  return () => {
    state = (state * 1664525 + 1013904223) % 2 ** 32
    return state / 2 ** 32
  }
}
const random = seededRandom(42)
const randomVector = () => Array.from({ length: DIMS }, () => random() - 0.5)
const queryVector = randomVector()

beforeAll(async () => {
  db = await createTestDatabase()
  const documents = Array.from({ length: DOCUMENTS }, (_, i) => ({
    sourceId: `doc-${i}`,
    kind: isProduct(i) ? ('product' as const) : ('guideline' as const),
    chunks: [{ text: `synthetic passage number ${i}`, embedding: randomVector() }],
  }))
  await seedCollection(db.pool, { name: 'plan', dimensions: DIMS }, documents)
  await db.pool.query('ANALYZE chunks')
  await db.pool.query('ANALYZE documents')
  collection = (await findSearchableCollection(db.pool, 'plan'))!
})

afterAll(async () => {
  await db?.close()
})

const options = (overrides: Partial<SearchOptions> = {}): SearchOptions => ({
  query: 'nothing lexical matches this',
  syntax: 'words',
  relaxWhenEmpty: false,
  bm25: { k1: 0.9, b: 0.4 },
  lexicalWeight: 0.8,
  queryVector,
  candidates: 40,
  limit: 200,
  efSearch: 40,
  maxScanTuples: 20_000,
  lexicalMaxScored: null,
  iterativeScan: 'relaxed_order',
  ...overrides,
})

/**
 * Runs `work` in a transaction where the exact plans (scan everything, then sort) are priced out, as
 * they are on a large collection. On 1500 rows the planner rightly prefers them for a 2% filter, and
 * they return k rows without any help; the point here is the HNSW path.
 */
async function withIndexPreferred<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await db.pool.connect()
  try {
    await client.query('BEGIN')
    await client.query('SET LOCAL enable_seqscan = off')
    await client.query('SET LOCAL enable_sort = off')
    return await work(client)
  } finally {
    await client.query('ROLLBACK')
    client.release()
  }
}

async function plan(client: pg.PoolClient, search: SearchOptions): Promise<string> {
  const { text, values } = buildSearchStatements(collection, search).vector!
  const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${text}`, values)
  return rows.map((row) => row['QUERY PLAN']).join('\n')
}

const vectorHits = (rows: { vectorRank: number | null }[]) =>
  rows.filter((row) => row.vectorRank !== null).length

describe.runIf(usingRealPostgres())('the search plan on PostgreSQL', () => {
  it('reads the collection HNSW index for the exact statement retrieval sends, with and without filters', async () => {
    const plain = await plan(db.pool as unknown as pg.PoolClient, options())
    expect(plain).toContain(`Index Scan using ${hnswIndexName(collection.collectionId)} on chunks`)
    const filtered = await withIndexPreferred((client) =>
      plan(client, options({ filters: { kind: 'product' } })),
    )
    expect(filtered).toContain(`Index Scan using ${hnswIndexName(collection.collectionId)} on chunks`)
  })
})

describe('HNSW settings and filtered search', () => {
  it('applies the per-query ef_search before the index scan starts', async () => {
    await withIndexPreferred(async (client) => {
      expect(await plan(client, options())).toContain(hnswIndexName(collection.collectionId))
      // Without iterative scans an HNSW scan yields at most ef_search rows, so the count shows the value used.
      const narrow = await searchChunks(client, collection, options({ efSearch: 10, iterativeScan: 'off' }))
      const wide = await searchChunks(client, collection, options({ efSearch: 100, iterativeScan: 'off' }))
      expect(vectorHits(narrow)).toBe(10)
      expect(vectorHits(wide)).toBe(40)
    })
  })

  it('returns k results for a filter matching 2% of the chunks thanks to iterative index scans', async () => {
    await withIndexPreferred(async (client) => {
      const filters = { kind: 'product' as const }
      expect(await plan(client, options({ filters }))).toContain(hnswIndexName(collection.collectionId))
      const postFiltered = await searchChunks(client, collection, options({ filters, iterativeScan: 'off' }))
      expect(vectorHits(postFiltered)).toBeLessThan(10)

      const embedders: EmbedderFactory = (model, dimensions) => ({
        model,
        dimensions,
        embedDocuments: async () => [],
        embedQuery: async () => queryVector,
      })
      const result = await retrieve(
        { db: client, embedders, settings: { ...testRetrievalSettings, efSearchDefault: 40 } },
        { collection: 'plan', query: 'nothing lexical matches this', k: 10, filters },
      )
      expect(result.mode).toBe('hybrid')
      expect(result.passages).toHaveLength(10)
      expect(result.passages.every((p) => p.kind === 'product')).toBe(true)
    })
  })
})
