import type { Embedder } from '../../src/embedding/embedder.js'
import { EmbeddingProviderError, toProviderError } from '../../src/embedding/openai-embedder.js'
import { sleep } from '../../src/lib/sleep.js'

export interface EmbedOptions {
  batchSize: number
  concurrency: number
  maxRetries: number
  /** First backoff step; doubles per attempt, with jitter, capped at 30 s. */
  retryBaseMs?: number
  signal?: AbortSignal
  /** Called once per batch that came back, with its size. */
  onBatch?: (size: number) => void
}

/**
 * Embed texts in batches, at most `concurrency` requests in flight, retrying rate limits, server
 * errors, timeouts and dropped connections with exponential backoff (Retry-After wins when sent).
 * Results come back in input order.
 */
export async function embedTexts(
  embedder: Embedder,
  texts: string[],
  options: EmbedOptions,
): Promise<number[][]> {
  const batches: { start: number; texts: string[] }[] = []
  for (let start = 0; start < texts.length; start += options.batchSize) {
    batches.push({ start, texts: texts.slice(start, start + options.batchSize) })
  }
  const out = new Array<number[]>(texts.length)
  let next = 0
  const run = async () => {
    while (next < batches.length) {
      const batch = batches[next++]!
      const vectors = await withRetries(() => embedder.embedDocuments(batch.texts), options)
      vectors.forEach((vector, i) => {
        out[batch.start + i] = vector
      })
      options.onBatch?.(batch.texts.length)
    }
  }
  await Promise.all(Array.from({ length: Math.min(options.concurrency, batches.length) }, run))
  return out
}

async function withRetries<T>(work: () => Promise<T>, options: EmbedOptions): Promise<T> {
  const base = options.retryBaseMs ?? 500
  for (let attempt = 0; ; attempt++) {
    options.signal?.throwIfAborted()
    try {
      return await work()
    } catch (error) {
      if (!(error instanceof EmbeddingProviderError) && !isProviderShaped(error)) throw error
      const failure = toProviderError(error)
      if (!failure.retryable || attempt >= options.maxRetries) {
        const tries = attempt + 1
        throw new EmbeddingProviderError(
          `${failure.message} Gave up after ${tries} attempt${tries === 1 ? '' : 's'}.`,
          false,
          failure.status,
        )
      }
      const backoff = Math.min(30_000, base * 2 ** attempt) * (0.5 + Math.random() / 2)
      // Ends early when the job is stopped; the next attempt's throwIfAborted then stops the loop.
      await sleep(failure.retryAfterMs ?? backoff, options.signal)
    }
  }
}

function isProviderShaped(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    ('status' in error || /Timeout|Connection/.test(String((error as Error).name)))
  )
}
