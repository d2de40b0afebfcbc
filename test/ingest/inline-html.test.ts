import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chunkDocument } from '../../ingest/chunking/chunk-document.js'
import { markdownWithoutHtml } from '../../ingest/loaders/inline-html.js'
import { loadFiles } from '../../ingest/loaders/load-files.js'
import type { Database } from '../../src/db/pool.js'
import { type OpenAIStub, startOpenAIStub } from '../support/openai-stub.js'
import { createTestDatabase } from '../support/test-db.js'
import { FIXTURES, ingestDeps, ingestNow, makeCollection, textFile } from './ingest-harness.js'

// govau's "Plain English" page: Markdown with an inline <h3> and a 70-row <table> of word swaps.
const PLAIN_ENGLISH = 'govau/plain-english.md'
const plainEnglish = () =>
  textFile(PLAIN_ENGLISH, readFileSync(join(FIXTURES, 'guidelines', PLAIN_ENGLISH), 'utf8'))
const TABLE_PATH = 'Plain English > Plain English words and terms'
const HEADER = "| Don't write this | Write this |\n| --- | --- |"
const ROWS = 70

const loadPlainEnglish = () => loadFiles([plainEnglish()], {}).documents[0]!
const tableRows = (text: string) =>
  text.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| ---'))

describe('Markdown with inline HTML', () => {
  it('turns an HTML heading into a Markdown heading and a table into a pipe table with no tags left', () => {
    const body = loadPlainEnglish().body
    expect(body).toContain('\n### Plain English words and terms\n')
    expect(body).toContain(`${HEADER}\n| a number of | some, many, few |`)
    expect(body).toContain(
      '| table (verb) — unless tabling a document in parliament | address, discuss, release |',
    )
    expect(body).toContain("| deliver, drive | say what you are doing, for example 'increasing' ... |")
    expect(body).not.toMatch(/<\/?(h3|table|thead|tbody|tr|td|th)\b/)
  })

  it('puts the HTML heading on the heading path and keeps the table whole when it fits', () => {
    const chunks = chunkDocument(loadPlainEnglish(), { maxTokens: 1500, overlapTokens: 50 })
    const table = chunks.filter((c) => c.headingPath === TABLE_PATH)
    expect(table).toHaveLength(1)
    expect(table[0]!.text.startsWith(HEADER)).toBe(true)
    expect(tableRows(table[0]!.text)).toHaveLength(ROWS + 1)
    // The section before the table no longer ends with the raw heading.
    expect(chunks.some((c) => c.text.includes('<h3'))).toBe(false)
  })

  it('cuts a table too long for one chunk between rows, with its header on every part', () => {
    const options = { maxTokens: 200, overlapTokens: 20 }
    const parts = chunkDocument(loadPlainEnglish(), options).filter((c) => c.headingPath === TABLE_PATH)
    expect(parts.length).toBeGreaterThan(1)
    const rows: string[] = []
    for (const part of parts) {
      expect(part.text.startsWith(`${HEADER}\n`)).toBe(true)
      expect(part.tokenCount).toBeLessThanOrEqual(options.maxTokens)
      // Every line of a part is a whole row: it opens and closes with a cell border.
      for (const line of part.text.split('\n')) expect(line).toMatch(/^\| .* \|$/)
      rows.push(...tableRows(part.text).slice(1))
    }
    expect(rows).toHaveLength(ROWS)
    expect(rows[0]).toBe('| a number of | some, many, few |')
    expect(rows.at(-1)).toBe('| with reference to, with regard to, with respect to | about, regarding |')
  })

  it('gives inline tags way to their text and keeps code as written', () => {
    // Lines as govau writes them (em-dashes, phone numbers, on-page optimisation, underline pages).
    const markdown = [
      '- Windows: hold <kbd>Ctrl</kbd> + <kbd>Alt</kbd> keys and type <kbd>-</kbd>',
      'HTML: <code>&lt;a href=&quot;tel:0255500000&quot;&gt;02 5550 0000&lt;/a&gt;</code>',
      'Use [responsive design](https://example.gov.au/){:rel="external"} on <strong>all</strong> devices.',
      '<u>Underlining makes text look like a link</u>.',
      '- <a href="mailto:content@digital.gov.au">content@digital.gov.au</a>',
      'Wrap tags in backticks: `<h3>` and `&amp;` stay.',
      '```html',
      '<table><tr><td>shown as code</td></tr></table>',
      '```',
    ].join('\n')
    expect(markdownWithoutHtml(markdown).split('\n')).toEqual([
      '- Windows: hold Ctrl + Alt keys and type -',
      'HTML: `<a href="tel:0255500000">02 5550 0000</a>`',
      'Use [responsive design](https://example.gov.au/) on **all** devices.',
      'Underlining makes text look like a link.',
      '- [content@digital.gov.au](mailto:content@digital.gov.au)',
      'Wrap tags in backticks: `<h3>` and `&amp;` stay.',
      '```html',
      '<table><tr><td>shown as code</td></tr></table>',
      '```',
    ])
  })

  it('ends an HTML block that never closes at the next blank line', () => {
    const out = markdownWithoutHtml('<div>\nopen <em>forever</em>\n\nAfter the block.\n\n## Next\n\nText.')
    expect(out).toContain('After the block.')
    expect(out).toContain('## Next')
    expect(out).not.toContain('<')
  })

  it('figures keep their caption and lose their markup', () => {
    const figure = [
      '<figure>',
      "  <img src='' alt='' />",
      '  <figcaption>Caption: HTML heading tags from h1 to h6.</figcaption>',
      '</figure>',
      '',
      'Use a heading.',
    ].join('\n')
    const out = markdownWithoutHtml(figure)
    expect(out).toContain('Caption: HTML heading tags from h1 to h6.')
    expect(out).toContain('Use a heading.')
    expect(out).not.toContain('<')
  })
})

describe('an ingested Markdown file with inline HTML', () => {
  let db: Database
  let stub: OpenAIStub
  beforeAll(async () => {
    db = await createTestDatabase()
    stub = await startOpenAIStub({ embeddingDimensions: 64 })
  })
  afterAll(async () => {
    await stub.close()
    await db.close()
  })

  it('is stored as clean chunks under the HTML heading, table rows whole, and found by a word in a row', async () => {
    const collection = await makeCollection(db, 'inline-html')
    const job = await ingestNow(ingestDeps(db, stub.url), collection, [plainEnglish()])
    expect(job.status).toBe('succeeded')
    const { rows } = await db.pool.query<{ heading_path: string; text: string }>(
      'SELECT heading_path, text FROM chunks WHERE collection_id = $1 ORDER BY ordinal',
      [collection.id],
    )
    expect(rows.some((r) => /<\/?[a-z][a-z0-9]*[\s>]/i.test(r.text))).toBe(false)
    const table = rows.filter((r) => r.heading_path === TABLE_PATH)
    expect(table.length).toBeGreaterThan(1)
    for (const part of table) {
      expect(part.text.startsWith(`${HEADER}\n`)).toBe(true)
      for (const line of part.text.split('\n')) expect(line).toMatch(/^\| .* \|$/)
    }
    expect(table.flatMap((r) => tableRows(r.text).slice(1))).toHaveLength(ROWS)
    // Full-text search reaches a row by its words, with the heading it sits under.
    const { rows: found } = await db.pool.query<{ heading_path: string; text: string }>(
      `SELECT heading_path, text FROM chunks
       WHERE collection_id = $1 AND tsv @@ websearch_to_tsquery('english', 'utilise')`,
      [collection.id],
    )
    expect(found.map((r) => r.heading_path)).toEqual([TABLE_PATH])
    expect(found[0]!.text).toContain('| utilise | use |')
  })
})
