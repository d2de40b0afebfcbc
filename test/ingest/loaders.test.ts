import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadFiles } from '../../ingest/loaders/load-files.js'
import type { Database } from '../../src/db/pool.js'
import { type OpenAIStub, startOpenAIStub } from '../support/openai-stub.js'
import { createTestDatabase } from '../support/test-db.js'
import {
  chunkSet,
  FIXTURES,
  ingestDeps,
  ingestNow,
  makeCollection,
  readFolder,
  textFile,
} from './ingest-harness.js'

const bytes = (values: number[]) => ({ content: Uint8Array.from(values) })

describe('loaders', () => {
  it('reads Markdown front matter for the title and keeps Liquid example content as text', () => {
    const [voice] = loadFiles(
      readFolder(join(FIXTURES, 'guidelines')).filter((f) => f.name === 'govau/voice.md'),
      {},
    ).documents
    expect(voice).toMatchObject({ sourceId: 'govau/voice.md', kind: 'guideline', title: 'Voice' })
    expect(voice!.metadata).toMatchObject({ order: 5 })
    expect(voice!.body).toContain('Example: using active voice')
    expect(voice!.body).toContain('We (subject) did not accept (verb)')
    expect(voice!.body).not.toContain('{%')
  })

  it('converts HTML with its headings, lists and tables kept', () => {
    const html =
      '<html><head><title>Tone</title><script>track()</script></head><body><h2>Be kind</h2><ul><li>one</li><li>two</li></ul><table><tr><th>a</th></tr><tr><td>1</td></tr></table></body></html>'
    const [doc] = loadFiles([textFile('tone.html', html)], {}).documents
    expect(doc!.title).toBe('Tone')
    expect(doc!.body).toContain('## Be kind')
    expect(doc!.body).toMatch(/\* one\n\* two/)
    expect(doc!.body).toContain('| a |')
    expect(doc!.body).not.toContain('track()')
  })

  it('reads CSV products with the id column, every column as metadata and text from chosen columns', () => {
    const { documents, errors } = loadFiles(
      readFolder(join(FIXTURES, 'products')).filter((f) => f.name.endsWith('.csv')),
      {},
    )
    expect(errors).toEqual([])
    expect(documents).toHaveLength(10)
    const bag = documents.find((d) => d.sourceId === '24-MB01')!
    expect(bag.title).toBe('Joust Duffle Bag')
    expect(bag.metadata).toMatchObject({
      sku: '24-MB01',
      price: '34',
      material: expect.stringContaining('Nylon'),
    })
    expect(bag.body).toContain('description: The sporty Joust Duffle Bag')
    expect(bag.body).not.toContain('<p>')
    const custom = loadFiles([textFile('p.csv', 'code,name,material\nA1,Bag,Nylon\n')], {
      idColumn: 'code',
      textColumns: ['name', 'material'],
      titleColumn: 'code',
    }).documents[0]!
    expect(custom).toMatchObject({ sourceId: 'A1', title: 'A1', body: 'name: Bag\nmaterial: Nylon' })
  })

  it('reads JSON arrays, wrapped arrays and JSONL records', () => {
    const array = loadFiles(
      readFolder(join(FIXTURES, 'products')).filter((f) => f.name.endsWith('.json')),
      {},
    )
    expect(array.documents).toHaveLength(6)
    expect(array.documents[0]!.body).toContain('categories: Gear, Watches')
    const wrapped = loadFiles([textFile('w.json', '{"products":[{"id":"x1","name":"X"}]}')], {})
    expect(wrapped.documents.map((d) => d.sourceId)).toEqual(['x1'])
    const lines = loadFiles([textFile('l.jsonl', '{"sku":"a","name":"A"}\n\n{"sku":"b","name":"B"}\n')], {})
    expect(lines.documents.map((d) => d.sourceId)).toEqual(['a', 'b'])
  })

  it('gives every bad file and row its own error and keeps the good ones', () => {
    const { documents, errors } = loadFiles(
      [
        { name: 'logo.png', ...bytes([0x89, 0x50, 0x4e, 0x47, 0, 0, 1]) },
        { name: 'notes.bin.md', ...bytes([0x61, 0x00, 0x62]) },
        { name: 'data.xlsx', content: new TextEncoder().encode('not really') },
        { name: 'latin1.md', ...bytes([0x63, 0x61, 0x66, 0xe9, 0x0a]) },
        textFile('empty.md', '  \n'),
        textFile('rows.csv', 'sku,name\nA,Alpha\n,No id\nA,Alpha again\nB,Beta\n'),
        textFile('lines.jsonl', '{"sku":"C"}\nnot json\n[1]\n'),
        textFile('broken.json', '{"sku": '),
        textFile('good.md', '# Good\n\nFine.'),
      ],
      {},
    )
    expect(documents.map((d) => d.sourceId)).toEqual(['A', 'B', 'C', 'good.md'])
    expect(errors).toEqual([
      { file: 'logo.png', message: 'the file is a PNG image, not text' },
      { file: 'notes.bin.md', message: 'the file is binary (it contains NUL bytes), not text' },
      { file: 'data.xlsx', message: expect.stringMatching(/^unsupported file type \.xlsx; supported: \.md/) },
      { file: 'latin1.md', message: 'the file is not valid UTF-8 (at byte 3); save it as UTF-8' },
      { file: 'empty.md', message: 'the file is empty' },
      { file: 'rows.csv', row: 2, message: 'the row has no value in the id column "sku"' },
      { file: 'rows.csv', row: 3, message: 'duplicate id "A" (first seen in rows.csv row 1); skipped' },
      { file: 'lines.jsonl', row: 2, message: 'the line is not valid JSON' },
      { file: 'lines.jsonl', row: 3, message: 'the line is not a JSON object' },
      { file: 'broken.json', message: expect.stringMatching(/^the JSON cannot be parsed/) },
    ])
  })

  it('refuses archives and files of the other kind when a kind is given', () => {
    const { errors } = loadFiles(
      [{ name: 'guides.zip', ...bytes([0x50, 0x4b, 0x03, 0x04]) }, textFile('a.md', '# A\n\nx')],
      { kind: 'product' },
    )
    expect(errors.map((e) => e.message)).toEqual([
      'archives are not accepted; extract the files and upload them instead',
      'this is a guideline file but the job ingests product files only',
    ])
  })
})

describe('bad inputs in a job', () => {
  let db: Database
  let stub: OpenAIStub
  beforeAll(async () => {
    db = await createTestDatabase()
    stub = await startOpenAIStub()
  })
  afterAll(async () => {
    await stub.close()
    await db.close()
  })

  it('are reported per file and row in the job while every good file is ingested', async () => {
    const collection = await makeCollection(db, 'bad-inputs')
    const job = await ingestNow(ingestDeps(db, stub.url), collection, [
      { name: 'image.md', content: Uint8Array.from([0x00, 0x01, 0x02]) },
      textFile('empty.txt', ''),
      textFile('rows.csv', 'sku,name\n,Missing\nS1,One\nS1,Dup\n'),
      textFile('fine.txt', 'Plain words.\n\nMore words.'),
    ])
    expect(job.status).toBe('succeeded_with_errors')
    expect(job.errors).toHaveLength(4)
    expect(job.progress).toMatchObject({ documents: { added: 2 }, errors: 4 })
    expect(new Set((await chunkSet(db, collection.id)).map((c) => c.sourceId))).toEqual(
      new Set(['S1', 'fine.txt']),
    )
  })
})
