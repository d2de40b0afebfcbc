import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { countTokens, countTokensAsync, encode, encodeAsync } from '../../src/tokens/bpe.js'
import { cjkRun, lowercaseRun } from './hostile-text.js'

const MEGABYTE_OF_LETTERS = lowercaseRun(1_000_000, 31)

/** Counts how often a repeating timer and a chain of setImmediate callbacks get to run during `work`. */
async function turnsDuring<T>(
  work: () => Promise<T>,
): Promise<{ result: T; timers: number; immediates: number }> {
  let timers = 0
  let immediates = 0
  let running = true
  const interval = setInterval(() => timers++, 1)
  const chain = () => {
    immediates++
    if (running) setImmediate(chain)
  }
  setImmediate(chain)
  try {
    const result = await work()
    return { result, timers, immediates }
  } finally {
    running = false
    clearInterval(interval)
  }
}

describe('the async API', () => {
  it('lets timers and other callbacks run many times while it encodes a 1 MB word', async () => {
    const { result, timers, immediates } = await turnsDuring(() =>
      encodeAsync(MEGABYTE_OF_LETTERS, 'cl100k_base'),
    )
    // The whole megabyte is one piece: the yields happen inside its merge.
    expect(result).toEqual(encode(MEGABYTE_OF_LETTERS, 'cl100k_base'))
    expect(timers).toBeGreaterThanOrEqual(5)
    expect(immediates).toBeGreaterThanOrEqual(5)
  }, 120_000)

  it('counts as the sync API does, yielding on the way', async () => {
    const text = `${'Ordinary words in a sentence. '.repeat(20_000)}${cjkRun(50_000)}`
    const { result, immediates } = await turnsDuring(() => countTokensAsync(text, 'o200k_base'))
    expect(result).toBe(countTokens(text, 'o200k_base'))
    expect(immediates).toBeGreaterThanOrEqual(5)
  }, 120_000)

  it('keeps encodings that run at the same time apart', async () => {
    const texts = [
      lowercaseRun(200_000, 32),
      cjkRun(60_000, 33),
      'Short words, many of them. '.repeat(10_000),
    ]
    const together = await Promise.all(texts.map((text) => encodeAsync(text, 'cl100k_base', { sliceMs: 1 })))
    expect(together).toEqual(texts.map((text) => encode(text, 'cl100k_base')))
  }, 120_000)

  it('stops at the next slice once its signal is aborted', async () => {
    const controller = new AbortController()
    const work = countTokensAsync(MEGABYTE_OF_LETTERS, 'o200k_base', { signal: controller.signal })
    await sleep(5)
    controller.abort()
    await expect(work).rejects.toMatchObject({ name: 'AbortError' })
  }, 120_000)

  it('answers a short text in its first slice, without waiting for the event loop', async () => {
    let immediateRan = false
    setImmediate(() => {
      immediateRan = true
    })
    expect(await countTokensAsync('A short prompt of a few words.', 'cl100k_base')).toBe(8)
    expect(immediateRan).toBe(false)
  })
})
