import { describe, expect, it, vi } from 'vitest'
import { QueryEmbeddingCache, queryEmbeddingKey } from '../../src/retrieval/query-embedding-cache.js'

describe('query embedding cache', () => {
  it('answers a repeated key from the cache and evicts the least recently used beyond its size', async () => {
    const cache = new QueryEmbeddingCache({ maxEntries: 2, ttlMs: 60_000 })
    const compute = vi.fn(async () => [1, 2])
    await cache.getOrCompute('a', compute)
    await cache.getOrCompute('b', compute)
    await cache.getOrCompute('a', compute) // a is now the most recently used
    await cache.getOrCompute('c', compute) // evicts b
    expect(compute).toHaveBeenCalledTimes(3)
    await cache.getOrCompute('a', compute)
    expect(compute).toHaveBeenCalledTimes(3)
    await cache.getOrCompute('b', compute)
    expect(compute).toHaveBeenCalledTimes(4)
    expect(cache.size).toBe(2)
  })

  it('recomputes an entry once its time to live has passed', async () => {
    let now = 0
    const cache = new QueryEmbeddingCache({ maxEntries: 10, ttlMs: 1000, now: () => now })
    const compute = vi.fn(async () => [now])
    await cache.getOrCompute('q', compute)
    now = 999
    expect(await cache.getOrCompute('q', compute)).toEqual([0])
    now = 1000
    expect(await cache.getOrCompute('q', compute)).toEqual([1000])
  })

  it('shares one call between concurrent identical queries and forgets a failed call', async () => {
    const cache = new QueryEmbeddingCache({ maxEntries: 10, ttlMs: 60_000 })
    const failing = vi.fn(async (): Promise<number[]> => {
      throw new Error('provider down')
    })
    const results = await Promise.allSettled([
      cache.getOrCompute('q', failing),
      cache.getOrCompute('q', failing),
    ])
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected'])
    expect(failing).toHaveBeenCalledTimes(1)
    expect(cache.size).toBe(0)
    expect(await cache.getOrCompute('q', async () => [3])).toEqual([3])
  })

  it('is off when its size is zero', async () => {
    const cache = new QueryEmbeddingCache({ maxEntries: 0, ttlMs: 60_000 })
    const compute = vi.fn(async () => [1])
    await cache.getOrCompute('q', compute)
    await cache.getOrCompute('q', compute)
    expect(compute).toHaveBeenCalledTimes(2)
  })

  it('keys on model and dimension as well as the text', () => {
    expect(queryEmbeddingKey('m1', 64, 'q')).not.toBe(queryEmbeddingKey('m2', 64, 'q'))
    expect(queryEmbeddingKey('m1', 64, 'q')).not.toBe(queryEmbeddingKey('m1', 128, 'q'))
  })
})
