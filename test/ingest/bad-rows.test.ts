import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadFiles } from '../../ingest/loaders/load-files.js'
import type { Database } from '../../src/db/pool.js'
import { createTestDatabase } from '../support/test-db.js'
import { chunkSet, ingestDeps, ingestNow, makeCollection, textFile } from './ingest-harness.js'

let db: Database
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(async () => {
  await db.close()
})

function deeplyNested(levels: number): string {
  return `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`
}

// Rows PostgreSQL would refuse (NUL, lone surrogates, nesting its jsonb parser gives up on) or that
// JSON cannot carry faithfully (numbers beyond double range, integer ids beyond 2^53).
const BAD_ROWS: Record<number, string> = {
  20: '{"sku": "nul-value", "name": "Bag", "description": "a\\u0000b"}',
  40: '{"sku": "nul-key", "name": "Bag", "we\\u0000ird": "x"}',
  60: '{"sku": "nul\\u0000id", "name": "Bag"}',
  80: '{"sku": "surrogate", "name": "Bag \\ud800 broken"}',
  100: `{"sku": "deep", "name": "Bag", "spec": ${deeplyNested(10_000)}}`,
  128: '{"sku": "huge-number", "name": "Bag", "weight": 1e400}',
  150: '{"sku": 12345678901234567890, "name": "Bag"}',
  170: '{"sku": "title-nul", "name": "Ba\\u0000g"}',
}

function jsonl(): string {
  return Array.from(
    { length: 200 },
    (_, i) =>
      BAD_ROWS[i + 1] ?? JSON.stringify({ sku: `ok-${i + 1}`, name: `Bag ${i + 1}`, description: 'Fine.' }),
  ).join('\n')
}

describe('one bad row is a per-row error like any other', () => {
  it('rows with NUL characters, lone surrogates, deep nesting or out-of-range numbers are named and the rest loads, other files included', async () => {
    const collection = await makeCollection(db, 'bad-rows')
    const job = await ingestNow(ingestDeps(db, undefined), collection, [
      textFile('products.jsonl', jsonl()),
      textFile('voice.md', '# Voice\n\nWrite plainly.\n'),
    ])
    expect(job.status).toBe('succeeded_with_errors')
    const rows = (job.errors as { file: string; row?: number; message: string }[]).map((e) => [
      e.row,
      e.message,
    ])
    expect(rows).toEqual([
      [20, 'the field "description" contains a NUL character (\\u0000), which cannot be stored'],
      [40, 'a field name contains a NUL character (\\u0000), which cannot be stored'],
      [60, 'the field "sku" contains a NUL character (\\u0000), which cannot be stored'],
      [
        80,
        'the field "name" contains a lone UTF-16 surrogate (a broken \\uD800-style escape), which is not text',
      ],
      [100, expect.stringMatching(/^the record is nested deeper than 32 levels \(at "spec\.a\.a/)],
      [128, 'the field "weight" holds a number too large to store'],
      [150, 'the id 12345678901234567000 is a number too large to read exactly; write it as a string'],
      [170, 'the field "name" contains a NUL character (\\u0000), which cannot be stored'],
    ])
    const ids = new Set((await chunkSet(db, collection.id)).map((chunk) => chunk.sourceId))
    expect(ids.size).toBe(192 + 1)
    expect(ids.has('voice.md')).toBe(true)
    expect(ids.has('ok-199')).toBe(true)
  })

  it('a CSV with a stray NUL byte in one value rejects that row, not the file', async () => {
    const collection = await makeCollection(db, 'csv-nul')
    const csv = 'sku,name\nA-1,First\nA-2,Sec\u0000ond\nA-3,Third\n'
    const job = await ingestNow(ingestDeps(db, undefined), collection, [textFile('p.csv', csv)])
    expect(job.status).toBe('succeeded_with_errors')
    expect(job.errors).toEqual([
      {
        file: 'p.csv',
        row: 2,
        message: 'the field "name" contains a NUL character (\\u0000), which cannot be stored',
      },
    ])
    expect(new Set((await chunkSet(db, collection.id)).map((c) => c.sourceId))).toEqual(
      new Set(['A-1', 'A-3']),
    )
  })

  it('a file that is mostly NUL bytes (UTF-16, binary) is still refused as binary', () => {
    const utf16 = new Uint8Array(Buffer.from('sku,name\nA-1,First\n', 'utf16le'))
    expect(loadFiles([{ name: 'p.csv', content: utf16 }], {}).errors).toEqual([
      { file: 'p.csv', message: 'the file is binary (it contains NUL bytes), not text' },
    ])
  })

  it('an unbroken run of 100,000 letters is cut into lines of at most 1,000 characters at the loader', () => {
    const word = 'x'.repeat(100_000)
    const [doc] = loadFiles([textFile('long.md', `# Long\n\n${word} end\n`)], {}).documents
    const runs = doc!.body.split(/\s+/)
    expect(Math.max(...runs.map((run) => run.length))).toBe(1000)
    expect(doc!.body.replace(/\s+/g, '')).toBe(`#Long${word}end`)
  })
})
