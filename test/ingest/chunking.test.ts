import { describe, expect, it } from 'vitest'
import { CHUNK_ENCODING, sha256 } from '../../ingest/chunking/chunk.js'
import { chunkDocument, documentHash } from '../../ingest/chunking/chunk-document.js'
import { chunkGuideline } from '../../ingest/chunking/chunk-guideline.js'
import { splitByTokens } from '../../ingest/chunking/split-tokens.js'
import type { LoadedDocument } from '../../ingest/loaders/types.js'
import { countTokens } from '../../src/tokens/tokenizer.js'

const options = { maxTokens: 120, overlapTokens: 20 }

describe('guideline chunking', () => {
  it('splits along headings and keeps the heading path, title first, on every chunk', () => {
    const chunks = chunkGuideline(
      {
        title: 'Style',
        markdown:
          '# Style\n\nIntro.\n\n## Voice\n\nBe clear.\n\n### Grammar\n\nUse active voice.\n\n## Numbers\n\nUse numerals.',
      },
      options,
    )
    expect(chunks.map((c) => [c.headingPath, c.text])).toEqual([
      ['Style', 'Intro.'],
      ['Style > Voice', 'Be clear.'],
      ['Style > Voice > Grammar', 'Use active voice.'],
      ['Style > Numbers', 'Use numerals.'],
    ])
  })

  it('embeds the heading path with the text and hashes exactly what is embedded', () => {
    const [chunk] = chunkGuideline({ title: 'Style', markdown: '## Voice\n\nBe clear.' }, options)
    expect(chunk!.embeddingText).toBe('Style > Voice\n\nBe clear.')
    expect(chunk!.contentHash).toBe(sha256('Style > Voice\n\nBe clear.'))
    expect(chunk!.tokenCount).toBe(countTokens(chunk!.embeddingText, CHUNK_ENCODING))
  })

  it('keeps a list and a table whole when they fit', () => {
    const list = Array.from({ length: 6 }, (_, i) => `- item ${i} of the list`).join('\n')
    const table = '| Term | Use |\n| --- | --- |\n| e.g. | for example |\n| i.e. | that is |'
    const chunks = chunkGuideline({ title: 'T', markdown: `## A\n\n${list}\n\n## B\n\n${table}` }, options)
    expect(chunks.find((c) => c.headingPath === 'T > A')!.text).toBe(list)
    expect(chunks.find((c) => c.headingPath === 'T > B')!.text).toBe(table)
  })

  it('cuts a table too long for one chunk by rows and repeats its header on each part', () => {
    const rows = Array.from({ length: 60 }, (_, i) => `| word${i} | meaning number ${i} here |`).join('\n')
    const chunks = chunkGuideline(
      { title: 'T', markdown: `| Word | Meaning |\n| --- | --- |\n${rows}` },
      options,
    )
    expect(chunks.length).toBeGreaterThan(2)
    for (const chunk of chunks) {
      expect(chunk.text.startsWith('| Word | Meaning |\n| --- | --- |\n')).toBe(true)
      expect(chunk.tokenCount).toBeLessThanOrEqual(options.maxTokens)
    }
    expect(chunks.map((c) => c.text).join('\n')).toContain('| word59 |')
  })

  it('splits a long section by tokens with overlap, each chunk within the size', () => {
    const sentences = Array.from({ length: 80 }, (_, i) => `Sentence number ${i} talks about plain language.`)
    const chunks = chunkGuideline({ title: 'Long', markdown: sentences.join(' ') }, options)
    expect(chunks.length).toBeGreaterThan(3)
    for (const chunk of chunks) expect(chunk.tokenCount).toBeLessThanOrEqual(options.maxTokens)
    // The end of one chunk is repeated at the start of the next.
    const firstEnd = chunks[0]!.text.split('. ').at(-1)!
    expect(chunks[1]!.text).toContain(firstEnd)
  })

  it('never cuts inside a word or a multi-byte character', () => {
    const text = 'Ünïcödé wörds ✓ and emoji 🎉 repeated. '.repeat(100)
    for (const piece of splitByTokens(text, 50, 10)) {
      expect(piece).not.toContain('\uFFFD')
      expect(text).toContain(piece)
    }
  })
})

describe('product chunking', () => {
  const product = (body: string): LoadedDocument => ({
    sourceId: 'MB01',
    kind: 'product',
    title: 'Joust Duffle Bag',
    body,
    metadata: {},
    raw: body,
    fileIndex: 0,
  })

  it('makes one chunk per record, titled by the product', () => {
    const chunks = chunkDocument(product('description: A sporty bag.'), options)
    expect(chunks).toHaveLength(1)
    expect(chunks[0]!.embeddingText).toBe('Joust Duffle Bag\n\ndescription: A sporty bag.')
  })

  it('keeps a record whole exactly while its embedded text, title included, fits the chunk size', () => {
    const words = (n: number) => product(`description: ${'roomy '.repeat(n)}`.trimEnd())
    let n = 1
    while (chunkDocument(words(n + 1), options).length === 1) n++
    const [fits] = chunkDocument(words(n), options)
    expect(fits!.tokenCount).toBeLessThanOrEqual(options.maxTokens)
    expect(fits!.tokenCount).toBeGreaterThan(options.maxTokens - 3)
    const cut = chunkDocument(words(n + 1), options)
    expect(cut.length).toBeGreaterThan(1)
    for (const chunk of cut) expect(chunk.tokenCount).toBeLessThanOrEqual(options.maxTokens)
  })

  it('splits a long record into several chunks that all carry the title', () => {
    const chunks = chunkDocument(product(`description: ${'Very roomy and light. '.repeat(120)}`), options)
    expect(chunks.length).toBeGreaterThan(1)
    expect(chunks.every((c) => c.headingPath === 'Joust Duffle Bag')).toBe(true)
  })

  it('gives a document a new hash when the chunk settings change', () => {
    const doc = product('description: A sporty bag.')
    expect(documentHash(doc, {}, options)).toBe(documentHash(doc, {}, { ...options }))
    expect(documentHash(doc, {}, options)).not.toBe(documentHash(doc, {}, { ...options, maxTokens: 300 }))
    expect(documentHash(doc, {}, options)).not.toBe(documentHash(doc, { idColumn: 'id' }, options))
  })
})
