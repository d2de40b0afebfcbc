import { describe, expect, it } from 'vitest'
import { type CandidateChunk, packPassages } from '../../src/retrieval/packing.js'
import {
  jaccard,
  jaccardAtLeast,
  joinAdjacent,
  ShingleVocabulary,
  wordShingles,
} from '../../src/retrieval/text-similarity.js'

let nextId = 1
function hit(overrides: Partial<CandidateChunk> & { text: string }): CandidateChunk {
  const id = overrides.id ?? nextId++
  return {
    id,
    documentId: 1,
    ordinal: id,
    headingPath: 'Voice',
    tokenCount: 10,
    contentHash: `hash-${id}-${overrides.text}`,
    sourceId: 'voice.md',
    title: 'Voice',
    kind: 'guideline',
    metadata: {},
    vectorScore: null,
    lexicalScore: null,
    vectorRank: null,
    lexicalRank: null,
    fused: 1 / (60 + id),
    fusedRank: id,
    ...overrides,
  }
}

describe('packing passages', () => {
  it('keeps fused order and carries title, source, heading path, chunk ids and scores', () => {
    const a = hit({
      id: 1,
      documentId: 1,
      ordinal: 0,
      text: 'alpha one two three',
      vectorScore: 0.9,
      fused: 0.03,
    })
    const b = hit({
      id: 2,
      documentId: 2,
      ordinal: 4,
      text: 'beta four five six',
      sourceId: 'b.md',
      title: 'B',
      fused: 0.02,
    })
    const { passages, usedTokens } = packPassages([a, b], { k: 5, budgetTokens: 100 })
    expect(passages.map((p) => p.chunkIds)).toEqual([[1], [2]])
    expect(passages[1]).toMatchObject({ sourceId: 'b.md', title: 'B', headingPath: 'Voice', tokens: 10 })
    expect(passages[0]!.scores).toEqual({ vector: 0.9, lexical: null, fused: 0.03 })
    expect(usedTokens).toBe(20)
  })

  it('merges chunks of one document with consecutive ordinals, placed where the best one ranked', () => {
    const other = hit({ id: 10, documentId: 9, ordinal: 0, text: 'unrelated words here', fused: 0.05 })
    const second = hit({
      id: 12,
      documentId: 3,
      ordinal: 1,
      text: 'second part text',
      lexicalScore: 0.4,
      fused: 0.04,
    })
    const first = hit({
      id: 11,
      documentId: 3,
      ordinal: 0,
      text: 'first part text',
      vectorScore: 0.8,
      fused: 0.01,
    })
    const { passages } = packPassages([other, second, first], { k: 5, budgetTokens: 100 })
    expect(passages).toHaveLength(2)
    expect(passages[1]).toMatchObject({
      chunkIds: [11, 12],
      text: 'first part text\n\nsecond part text',
      tokens: 20,
      scores: { vector: 0.8, lexical: 0.4, fused: 0.04 },
    })
  })

  it('does not merge chunks whose ordinals are not consecutive', () => {
    const a = hit({ id: 21, documentId: 4, ordinal: 0, text: 'one thing said' })
    const b = hit({ id: 22, documentId: 4, ordinal: 2, text: 'another thing entirely' })
    expect(packPassages([a, b], { k: 5, budgetTokens: 100 }).passages).toHaveLength(2)
  })

  it('keeps the text two neighbouring chunks share only once when merging them', () => {
    const shared = 'the overlap repeated at the boundary'
    const a = hit({ id: 31, documentId: 5, ordinal: 0, text: `Opening words. ${shared}` })
    const b = hit({ id: 32, documentId: 5, ordinal: 1, text: `${shared} and closing words.` })
    const [passage] = packPassages([a, b], { k: 5, budgetTokens: 100 }).passages
    expect(passage!.text).toBe(`Opening words. ${shared} and closing words.`)
  })

  it('drops a chunk with the same content hash or nearly the same words as one already kept', () => {
    const text = 'Use sentence case for headings and buttons in every product'
    const a = hit({ id: 41, documentId: 6, ordinal: 0, text, contentHash: 'same' })
    const exact = hit({ id: 42, documentId: 7, ordinal: 0, text: 'different words', contentHash: 'same' })
    const near = hit({ id: 43, documentId: 8, ordinal: 0, text: `${text.toUpperCase()}!` })
    const distinct = hit({ id: 44, documentId: 9, ordinal: 0, text: 'Write numbers as numerals' })
    const { passages } = packPassages([a, exact, near, distinct], { k: 5, budgetTokens: 100 })
    expect(passages.map((p) => p.chunkIds[0])).toEqual([41, 44])
  })

  it('skips chunks that would overflow the budget and keeps smaller later ones that fit', () => {
    const big = hit({ id: 51, documentId: 10, ordinal: 0, text: 'big chunk', tokenCount: 80 })
    const huge = hit({ id: 52, documentId: 11, ordinal: 0, text: 'huge chunk', tokenCount: 50 })
    const small = hit({ id: 53, documentId: 12, ordinal: 0, text: 'small chunk', tokenCount: 20 })
    const { passages, usedTokens } = packPassages([big, huge, small], { k: 5, budgetTokens: 100 })
    expect(passages.map((p) => p.chunkIds[0])).toEqual([51, 53])
    expect(usedTokens).toBe(100)
  })

  it('stops after k chunks', () => {
    const hits = [1, 2, 3, 4].map((n) =>
      hit({ id: 60 + n, documentId: 60 + n, ordinal: 0, text: `distinct text number ${n} ${'x'.repeat(n)}` }),
    )
    expect(packPassages(hits, { k: 2, budgetTokens: 1000 }).passages.map((p) => p.chunkIds[0])).toEqual([
      61, 62,
    ])
  })
})

describe('text similarity', () => {
  it('compares normalised word shingles', () => {
    expect(jaccard(wordShingles('Hello, World: again here'), wordShingles('hello world again   here'))).toBe(
      1,
    )
    expect(jaccard(wordShingles('one two three four'), wordShingles('five six seven eight'))).toBe(0)
  })

  it('numbers shingles one to one with the strings of wordShingles', () => {
    // Texts of 0-7 words from 6 (repeats, case and punctuation included): every pair's sizes and overlap agree.
    let seed = 3
    const next = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
      return seed / 2 ** 31
    }
    const pieces = ['Voice', 'voice,', 'tone', 'TONE.', 'plain', 'words', 'é', '42']
    const texts = Array.from({ length: 300 }, () =>
      Array.from({ length: Math.floor(next() * 8) }, () => pieces[Math.floor(next() * pieces.length)]).join(
        ' ',
      ),
    )
    texts.push('', 'one', 'one two', 'one two three', 'two three', 'one one one one')
    const vocabulary = new ShingleVocabulary()
    const numbered = texts.map((text) => vocabulary.shingles(text)!)
    const strings = texts.map((text) => wordShingles(text))
    for (let i = 0; i < texts.length; i++) {
      expect(numbered[i]!.size).toBe(strings[i]!.size)
      for (let j = 0; j < texts.length; j++) {
        expect(jaccard(numbered[i]!, numbered[j]!), `${texts[i]} / ${texts[j]}`).toBe(
          jaccard(strings[i]!, strings[j]!),
        )
      }
    }
    // Word numbers past 16 bits keep their own place in the key: v1 v2 v65539 is not v1 v3 v3.
    const wide = new ShingleVocabulary()
    wide.shingles(Array.from({ length: 70_000 }, (_, i) => `v${i + 1}`).join(' '))
    expect(jaccard(wide.shingles('v1 v2 v65539')!, wide.shingles('v1 v3 v3')!)).toBe(0)
    // Past the words a key can number: no numbers.
    const small = new ShingleVocabulary(3)
    expect(small.shingles('a b c a')?.size).toBe(2)
    expect(small.shingles('a b d')).toBeUndefined()
  })

  it('still drops near duplicates when the texts hold more words than shingle numbers can', () => {
    const words = (from: number, count: number) =>
      Array.from({ length: count }, (_, i) => `w${from + i}`).join(' ')
    const wide = words(0, 140_000)
    const hits = [
      hit({ id: 81, text: wide, tokenCount: 10 }),
      hit({ id: 82, text: `${wide} w-1`, tokenCount: 10 }),
      hit({ id: 83, text: words(200_000, 50), tokenCount: 10 }),
    ]
    expect(new ShingleVocabulary().shingles(wide)).toBeUndefined()
    expect(packPassages(hits, { k: 3, budgetTokens: 1000 }).passages.map((p) => p.chunkIds[0])).toEqual([
      81, 83,
    ])
  })

  it('answers jaccard(a, b) >= threshold exactly, at the boundaries too, while stopping early', () => {
    // A small deterministic generator: sets of 0–40 items from 60, thresholds at the pair's own ratios.
    let seed = 7
    const next = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
      return seed / 2 ** 31
    }
    const set = () =>
      new Set(Array.from({ length: Math.floor(next() * 40) }, () => `w${Math.floor(next() * 60)}`))
    let checked = 0
    for (let i = 0; i < 400; i++) {
      const a = set()
      const b = i % 5 === 0 ? new Set([...a].slice(0, Math.floor(a.size * next()))) : set()
      const exact = jaccard(a, b)
      for (const threshold of [0, 0.5, 0.9, 1, exact, Math.max(0, exact - 1e-12), exact + 1e-12, next()]) {
        expect(jaccardAtLeast(a, b, threshold), `${[...a]} / ${[...b]} at ${threshold}`).toBe(
          exact >= threshold,
        )
        expect(jaccardAtLeast(b, a, threshold)).toBe(exact >= threshold)
        checked++
      }
    }
    expect(checked).toBe(3200)
    expect(jaccardAtLeast(new Set(), new Set(), 1)).toBe(true)
  })

  it('ignores coincidental short overlaps when joining', () => {
    expect(joinAdjacent('ends with the', 'the start')).toBe('ends with the\n\nthe start')
  })
})
