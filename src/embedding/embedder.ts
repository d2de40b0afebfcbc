/**
 * Turns texts into vectors for one model and dimension. The real one talks to an OpenAI-compatible
 * endpoint; tests use the same one against a local wire-compatible server.
 */
export interface Embedder {
  readonly model: string
  readonly dimensions: number
  embedDocuments(texts: string[], options?: { signal?: AbortSignal }): Promise<number[][]>
  embedQuery(text: string, options?: { signal?: AbortSignal }): Promise<number[]>
}

/**
 * Collections choose their own model and dimension, so embedders are made per collection.
 * Returns undefined when no model provider is configured: callers fall back to full-text only.
 */
export type EmbedderFactory = (model: string, dimensions: number) => Embedder | undefined
