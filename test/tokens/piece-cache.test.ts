import { describe, expect, it, vi } from 'vitest'
import { cachedPieces, clearPieceCache, countTokens, encode } from '../../src/tokens/bpe.js'
import { PieceCache } from '../../src/tokens/piece-cache.js'
import { jsTiktokenEncode } from './reference-bpe.js'

// Hundreds of thousands of pieces go through the encoder: allow for a busy machine.
vi.setConfig({ testTimeout: 180_000 })

/** `count` distinct words of 5 lowercase letters: the 4th word is "aaaad". */
function distinctWords(count: number, from = 0): string[] {
  return Array.from({ length: count }, (_, i) => {
    let n = from + i
    let word = ''
    for (let k = 0; k < 5; k++) {
      word = String.fromCharCode(97 + (n % 26)) + word
      n = Math.floor(n / 26)
    }
    return word
  })
}

describe('PieceCache', () => {
  it('keeps the pieces used since its young generation last filled, and drops older ones', () => {
    const cache = new PieceCache<number>(3, 10)
    for (const [i, key] of ['a', 'b', 'c', 'd', 'e'].entries()) cache.set(key, i)
    // young {d, e}, old {a, b, c}: a hit in the old generation moves the piece to the young one.
    expect(cache.get('a')).toBe(0)
    cache.set('f', 5)
    cache.set('g', 6)
    expect(cache.get('a')).toBe(0)
    expect(cache.get('b')).toBeUndefined()
    expect(cache.size).toBeLessThanOrEqual(6)
  })

  it('does not keep keys longer than its limit', () => {
    const cache = new PieceCache<number>(10, 4)
    cache.set('long key', 1)
    cache.set('key', 2)
    expect(cache.get('long key')).toBeUndefined()
    expect(cache.get('key')).toBe(2)
  })
})

describe('the encoder’s piece cache', () => {
  it('stays bounded however many distinct pieces the text holds', () => {
    clearPieceCache('cl100k_base')
    const words = distinctWords(150_000)
    countTokens(words.join(' '), 'cl100k_base')
    expect(cachedPieces('cl100k_base')).toBeGreaterThan(30_000)
    expect(cachedPieces('cl100k_base')).toBeLessThanOrEqual(65_536)
  })

  it('does not keep pieces longer than 64 characters', () => {
    clearPieceCache('o200k_base')
    const longWords = distinctWords(2_000).map((word) => word.repeat(14))
    countTokens(longWords.join(' '), 'o200k_base')
    expect(cachedPieces('o200k_base')).toBe(0)
  })

  it('still encodes exactly after pieces were evicted', () => {
    const words = distinctWords(100_000, 7)
    const text = words.join(' ')
    countTokens(text, 'cl100k_base')
    const sample = `${words.slice(0, 2_000).join(' ')} ${words.slice(-2_000).join(' ')}`
    expect(encode(sample, 'cl100k_base')).toEqual(jsTiktokenEncode(sample, 'cl100k_base'))
  })
})
