import { describe, expect, it } from 'vitest'
import { bpeOperations, countTokens, ENCODING_NAMES, type EncodingName } from '../../src/tokens/bpe.js'
import { cjkRun, lowercaseRun, symbolRun } from './hostile-text.js'

/*
 * Work is measured in the encoder's elementary operations (rank lookups, pair scans, heap moves, merges),
 * not in time, so these tests say the same thing on a busy machine. Merging one piece costs O(n log n):
 * ten times the input costs about 10 × log(10n)/log(n) ≈ 12 times the operations, and a few dozen per
 * byte at a megabyte. A quadratic merge (tiktoken's own scan) costs about 100 times as much per tenfold.
 */
const SIZES = [1_000, 10_000, 100_000, 1_000_000]
// Runs of one letter, spaces and symbols stop at 100 KB to keep the suite short; letters and CJK go to 1 MB.
const SHORTER_SIZES = SIZES.slice(0, 3)
const MAX_OPS_PER_BYTE = 80
const MIN_GROWTH = 8
const MAX_GROWTH = 14

function operationsFor(text: string, encoding: EncodingName): number {
  const before = bpeOperations()
  countTokens(text, encoding)
  return bpeOperations() - before
}

// Each text is one piece of the given size in bytes: the case that took js-tiktoken minutes.
const runs: Record<string, { make: (bytes: number) => string; sizes: number[] }> = {
  'a run of letters': { make: (bytes) => lowercaseRun(bytes), sizes: SIZES },
  'a run of CJK ideographs': { make: (bytes) => cjkRun(Math.floor(bytes / 3)), sizes: SIZES },
  'a run of one letter': { make: (bytes) => 'a'.repeat(bytes), sizes: SHORTER_SIZES },
  'a run of spaces': { make: (bytes) => ' '.repeat(bytes), sizes: SHORTER_SIZES },
  'a run of symbols': { make: (bytes) => symbolRun(bytes), sizes: SHORTER_SIZES },
}

describe.each(ENCODING_NAMES)('%s merge work', (encoding) => {
  it.each(Object.keys(runs))(
    'grows by n log n, not n², with the length of %s',
    (kind) => {
      const { make, sizes } = runs[kind]!
      const counts: number[] = []
      for (const bytes of sizes) {
        const text = make(bytes)
        const ops = operationsFor(text, encoding)
        expect(ops, `${bytes} bytes`).toBeLessThanOrEqual(MAX_OPS_PER_BYTE * Buffer.byteLength(text))
        const previous = counts.at(-1)
        if (previous !== undefined) {
          expect(ops / previous, `${bytes} bytes against a tenth of that`).toBeGreaterThanOrEqual(MIN_GROWTH)
          expect(ops / previous, `${bytes} bytes against a tenth of that`).toBeLessThanOrEqual(MAX_GROWTH)
        }
        counts.push(ops)
      }
    },
    180_000,
  )
})

describe('work on ordinary text', () => {
  it('costs no merge work for pieces already seen', () => {
    const text = 'The quick brown fox jumps over the lazy dog. Ünïcödé wörds and 中文 too. '.repeat(200)
    countTokens(text, 'cl100k_base')
    expect(operationsFor(text, 'cl100k_base')).toBe(0)
  })
})
