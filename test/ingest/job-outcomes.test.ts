import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Database } from '../../src/db/pool.js'
import { createTestDatabase } from '../support/test-db.js'
import { chunkSet, ingestDeps, ingestNow, makeCollection, textFile } from './ingest-harness.js'

// Full-text only (no embedder): these tests are about what loads, what is deleted and how jobs end.
let db: Database
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(async () => {
  await db.close()
})

const CATALOG = [
  'sku,name,url_key,category,description',
  ...Array.from({ length: 32 }, (_, i) => `P-${i},Bag ${i},bag-${i},Bags,A sturdy bag number ${i}.`),
].join('\n')

async function storedIds(collectionId: number): Promise<string[]> {
  return [...new Set((await chunkSet(db, collectionId)).map((chunk) => chunk.sourceId))]
}

describe('sync deletes only on the strength of a source that loaded completely', () => {
  it('a sync whose every row is rejected (id column mistyped) deletes nothing, fails, and names the columns that would serve as an id', async () => {
    const collection = await makeCollection(db, 'sync-mistyped-id')
    const deps = ingestDeps(db, undefined)
    await ingestNow(deps, collection, [textFile('catalog.csv', CATALOG)])
    expect(await storedIds(collection.id)).toHaveLength(32)

    const job = await ingestNow(deps, collection, [textFile('catalog.csv', CATALOG)], {
      mode: 'sync',
      load: { idColumn: 'SKU' },
    })
    expect(job.status).toBe('failed')
    expect(job.error).toContain('Nothing was loaded')
    expect(job.error).toContain('no row has a value in the id column "SKU"')
    // category repeats and description is not unique per se here, but sku, name and url_key are.
    expect(job.error).toContain('columns present and unique in every row: sku, name, url_key, description')
    expect(job.progress).toMatchObject({ documents: { deleted: 0 }, sync: { deletion: 'skipped' } })
    expect(await storedIds(collection.id)).toHaveLength(32)
  })

  it('JSON records with only product_id fail naming product_id, and delete nothing in sync mode', async () => {
    const collection = await makeCollection(db, 'sync-product-id')
    const deps = ingestDeps(db, undefined)
    await ingestNow(deps, collection, [textFile('catalog.csv', CATALOG)])
    const records = Array.from({ length: 5 }, (_, i) => ({ product_id: 1000 + i, name: 'Same name' }))
    const job = await ingestNow(deps, collection, [textFile('records.json', JSON.stringify(records))], {
      mode: 'sync',
    })
    expect(job.status).toBe('failed')
    expect(job.error).toContain('no row has a value in the id column "sku"')
    expect(job.error).toContain('unique in every row: product_id (')
    expect(await storedIds(collection.id)).toHaveLength(32)
  })

  it('a sync with one rejected row keeps the rest, deletes nothing and says why in the job result', async () => {
    const collection = await makeCollection(db, 'sync-one-bad-row')
    const deps = ingestDeps(db, undefined)
    await ingestNow(deps, collection, [textFile('catalog.csv', CATALOG)])
    // Ten products left the catalog, and one row lost its sku.
    const lines = CATALOG.split('\n').slice(0, 23)
    lines[5] = lines[5]!.replace(/^P-4,/, ',')
    const job = await ingestNow(deps, collection, [textFile('catalog.csv', lines.join('\n'))], {
      mode: 'sync',
    })
    expect(job.status).toBe('succeeded_with_errors')
    expect(job.errors).toContainEqual({
      file: 'catalog.csv',
      row: 5,
      message: 'the row has no value in the id column "sku"',
    })
    expect(job.progress).toMatchObject({
      documents: { deleted: 0, unchanged: 21 },
      sync: { deletion: 'skipped', reason: expect.stringContaining('1 row was rejected') },
    })
    expect(await storedIds(collection.id)).toHaveLength(32)
  })

  it('a sync whose source loaded completely deletes the documents it no longer has', async () => {
    const collection = await makeCollection(db, 'sync-complete')
    const deps = ingestDeps(db, undefined)
    await ingestNow(deps, collection, [textFile('catalog.csv', CATALOG)])
    const job = await ingestNow(
      deps,
      collection,
      [textFile('catalog.csv', CATALOG.split('\n').slice(0, 23).join('\n'))],
      { mode: 'sync' },
    )
    expect(job.status).toBe('succeeded')
    expect(job.progress).toMatchObject({ documents: { deleted: 10 }, sync: { deletion: 'done' } })
    expect(await storedIds(collection.id)).toHaveLength(22)
  })
})

describe('honest job outcomes', () => {
  it('a job whose every file is rejected fails instead of succeeding', async () => {
    const collection = await makeCollection(db, 'all-files-bad')
    const job = await ingestNow(ingestDeps(db, undefined), collection, [
      textFile('empty.md', '   '),
      { name: 'logo.png', content: Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 1, 2]) },
    ])
    expect(job.status).toBe('failed')
    expect(job.error).toBe('Nothing was loaded: 2 files were rejected. See the errors for each.')
    expect(job.errors).toHaveLength(2)
  })

  it('a job with some rows rejected ends succeeded_with_errors, with the rest loaded', async () => {
    const collection = await makeCollection(db, 'some-rows-bad')
    const csv = `${CATALOG.split('\n').slice(0, 4).join('\n')}\n,No id,x,Bags,Lost.`
    const job = await ingestNow(ingestDeps(db, undefined), collection, [textFile('catalog.csv', csv)])
    expect(job.status).toBe('succeeded_with_errors')
    expect(job.error).toBeNull()
    expect(await storedIds(collection.id)).toEqual(['P-0', 'P-1', 'P-2'])
  })

  it('a job with nothing rejected succeeds', async () => {
    const collection = await makeCollection(db, 'all-good')
    const job = await ingestNow(ingestDeps(db, undefined), collection, [textFile('catalog.csv', CATALOG)])
    expect(job.status).toBe('succeeded')
    expect(job.errors).toEqual([])
  })
})
