import { OpenAIEmbeddings } from '@langchain/openai'
import { type Config, hasModelProvider } from '../config.js'
import type { Embedder, EmbedderFactory } from './embedder.js'

/** A provider failure, reduced to what callers decide on: retry or not, and how long to wait. */
export class EmbeddingProviderError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    readonly retryAfterMs?: number,
    readonly timedOut = false,
  ) {
    super(message)
    this.name = 'EmbeddingProviderError'
  }
}

/** The connection failed before or during the reply: the provider may never have seen the request. */
export class EmbeddingConnectionError extends EmbeddingProviderError {
  constructor(message: string) {
    super(message, true)
    this.name = 'EmbeddingConnectionError'
  }
}

/** The provider answered vectors of another size than the collection was created with. */
export class EmbeddingDimensionError extends Error {
  constructor(
    readonly model: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(
      `The embedding model "${model}" returned vectors of ${actual} dimensions, but the collection expects ${expected}. ` +
        'Create the collection with the dimension the model produces, or configure the model to produce that size.',
    )
    this.name = 'EmbeddingDimensionError'
  }
}

type EmbedderConfig = Pick<
  Config,
  'OPENAI_BASE_URL' | 'OPENAI_API_KEY' | 'EMBEDDING_TIMEOUT_MS' | 'EMBEDDING_BATCH_SIZE'
>

/**
 * Embedders for any OpenAI-compatible server. Retries are left to the caller (maxRetries 0), which
 * knows about batches, Retry-After and the job's lease. Undefined without a configured provider.
 */
export function createOpenAIEmbedderFactory(config: EmbedderConfig): EmbedderFactory {
  return (model, dimensions) => {
    if (!hasModelProvider(config)) return undefined
    const client = new OpenAIEmbeddings({
      model,
      // Only the text-embedding-3 family accepts a requested size; other models have a fixed one.
      ...(model.startsWith('text-embedding-3') ? { dimensions } : {}),
      // Local servers need no key, but the client insists on one.
      apiKey: config.OPENAI_API_KEY ?? 'not-needed',
      configuration: config.OPENAI_BASE_URL ? { baseURL: config.OPENAI_BASE_URL } : {},
      batchSize: config.EMBEDDING_BATCH_SIZE,
      stripNewLines: false,
      timeout: config.EMBEDDING_TIMEOUT_MS,
      maxRetries: 0,
      maxConcurrency: Number.POSITIVE_INFINITY,
    })
    return new OpenAIEmbedder(client, model, dimensions)
  }
}

class OpenAIEmbedder implements Embedder {
  constructor(
    private readonly client: OpenAIEmbeddings,
    readonly model: string,
    readonly dimensions: number,
  ) {}

  async embedDocuments(texts: string[]): Promise<number[][]> {
    const vectors = await this.call(() => this.client.embedDocuments(texts))
    if (!Array.isArray(vectors) || vectors.length !== texts.length) throw unusableReply()
    for (const vector of vectors) this.check(vector)
    return vectors
  }

  async embedQuery(text: string): Promise<number[]> {
    return this.check(await this.call(() => this.client.embedQuery(text)))
  }

  private check(vector: unknown): number[] {
    if (!Array.isArray(vector) || !vector.every(Number.isFinite)) throw unusableReply()
    if (vector.length !== this.dimensions)
      throw new EmbeddingDimensionError(this.model, this.dimensions, vector.length)
    return vector
  }

  private async call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work()
    } catch (error) {
      throw toProviderError(error)
    }
  }
}

/** Classify by shape: the OpenAI SDK's error classes belong to @langchain/openai's own copy of it. */
export function toProviderError(error: unknown): EmbeddingProviderError {
  if (error instanceof EmbeddingProviderError) return error
  const e = (typeof error === 'object' && error !== null ? error : {}) as {
    status?: unknown
    name?: unknown
    headers?: unknown
    constructor?: { name?: string }
  }
  const status = typeof e.status === 'number' ? e.status : undefined
  const kind = `${String(e.name ?? '')} ${e.constructor?.name ?? ''}`
  if (status === undefined) {
    if (/Timeout/i.test(kind)) {
      return new EmbeddingProviderError('The embedding provider timed out.', true, undefined, undefined, true)
    }
    if (/Connection|FetchError/i.test(kind)) {
      return new EmbeddingConnectionError('The embedding provider could not be reached.')
    }
    const message = error instanceof Error ? error.message : ''
    // undici's word for a body cut off mid-way.
    if (message === 'terminated') {
      return new EmbeddingConnectionError('The connection to the embedding provider was lost mid-reply.')
    }
    // The SDK parsing a body that is not JSON, or LangChain reading a reply of the wrong shape: the
    // provider answered, with garbage (often a proxy's page, which passes).
    if (error instanceof SyntaxError || error instanceof TypeError) return unusableReply()
    return new EmbeddingProviderError('The embedding call failed.', false)
  }
  const retryable = status === 408 || status === 409 || status === 429 || status >= 500
  return new EmbeddingProviderError(
    `The embedding provider answered HTTP ${status}.`,
    retryable,
    status,
    retryAfterMs(e.headers),
  )
}

function unusableReply(): EmbeddingProviderError {
  return new EmbeddingProviderError(
    'The embedding provider answered, but not with embeddings (not JSON, or no vectors).',
    true,
  )
}

function retryAfterMs(headers: unknown): number | undefined {
  if (typeof headers !== 'object' || headers === null || !('get' in headers)) return undefined
  const value = (headers as { get(name: string): string | null }).get('retry-after')
  if (value === null) return undefined
  const seconds = Number(value)
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now())
}
