import { getEventListeners } from 'node:events'
import { describe, expect, it } from 'vitest'
import { embedTexts } from '../../ingest/pipeline/embed-texts.js'
import type { Embedder } from '../../src/embedding/embedder.js'
import { EmbeddingProviderError } from '../../src/embedding/openai-embedder.js'

describe('embedding retries', () => {
  it('batches waiting to retry share one abort listener on the job signal and remove it at the end', async () => {
    const controller = new AbortController()
    let calls = 0
    let most = 0
    const embedder: Embedder = {
      model: 'm',
      dimensions: 2,
      embedQuery: async () => [1, 2],
      embedDocuments: async (texts) => {
        most = Math.max(most, getEventListeners(controller.signal, 'abort').length)
        // Every batch is rate limited once, so all twelve wait at the same time.
        if (calls++ < 12) throw new EmbeddingProviderError('rate limited', true, 429)
        return texts.map(() => [1, 2])
      },
    }
    const warnings: string[] = []
    const onWarning = (warning: Error) => warnings.push(warning.name)
    process.on('warning', onWarning)
    try {
      const vectors = await embedTexts(
        embedder,
        Array.from({ length: 24 }, (_, i) => `t${i}`),
        { batchSize: 2, concurrency: 12, maxRetries: 2, retryBaseMs: 20, signal: controller.signal },
      )
      expect(vectors).toHaveLength(24)
    } finally {
      process.off('warning', onWarning)
    }
    expect(most).toBeLessThanOrEqual(1)
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
    expect(warnings).not.toContain('MaxListenersExceededWarning')
  })

  it('an abort ends the retry waits at once and the call rejects', async () => {
    const controller = new AbortController()
    const embedder: Embedder = {
      model: 'm',
      dimensions: 2,
      embedQuery: async () => [1, 2],
      embedDocuments: async () => {
        throw new EmbeddingProviderError('unavailable', true, 503)
      },
    }
    const started = Date.now()
    const running = embedTexts(embedder, ['a', 'b'], {
      batchSize: 1,
      concurrency: 2,
      maxRetries: 5,
      retryBaseMs: 60_000,
      signal: controller.signal,
    })
    setTimeout(() => controller.abort(new Error('stop')), 50)
    await expect(running).rejects.toThrow('stop')
    expect(Date.now() - started).toBeLessThan(30_000)
  })
})
