import type { Embedder } from '../../src/embedding/embedder.js'
import { EmbeddingProviderError, toProviderError } from '../../src/embedding/openai-embedder.js'

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
  const backoff = createBackoff(options.signal)
  const run = async () => {
    while (next < batches.length) {
      const batch = batches[next++]!
      const vectors = await withRetries(() => embedder.embedDocuments(batch.texts), options, backoff.wait)
      vectors.forEach((vector, i) => {
        out[batch.start + i] = vector
      })
      options.onBatch?.(batch.texts.length)
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(options.concurrency, batches.length) }, run))
  } finally {
    backoff.close()
  }
  return out
}

/**
 * Retry waits of all batches in flight share one abort listener on the job's signal: one listener
 * per waiting batch (up to EMBEDDING_CONCURRENCY, twice with the group prepared ahead) went past
 * Node's limit of 10 and printed MaxListenersExceededWarning on every busy provider.
 */
function createBackoff(signal: AbortSignal | undefined) {
  const waiting = new Set<() => void>()
  const wakeAll = () => {
    for (const wake of [...waiting]) wake()
  }
  signal?.addEventListener('abort', wakeAll, { once: true })
  return {
    /** Resolves after `ms`, or at once when the signal aborts (the caller then re-checks it). */
    wait(ms: number): Promise<void> {
      if (signal?.aborted) return Promise.resolve()
      return new Promise((resolve) => {
        const wake = () => {
          clearTimeout(timer)
          waiting.delete(wake)
          resolve()
        }
        const timer = setTimeout(wake, ms)
        waiting.add(wake)
      })
    },
    close() {
      signal?.removeEventListener('abort', wakeAll)
      wakeAll()
    },
  }
}

async function withRetries<T>(
  work: () => Promise<T>,
  options: EmbedOptions,
  wait: (ms: number) => Promise<void>,
): Promise<T> {
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
      await wait(failure.retryAfterMs ?? backoff)
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
