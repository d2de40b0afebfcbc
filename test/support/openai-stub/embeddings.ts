/**
 * POST /v1/embeddings: one deterministic vector per input (see deterministic-embedding.ts), as floats or
 * base64 float32 like the real API.
 */
import { deterministicEmbedding, float32Base64 } from './deterministic-embedding.js'
import { approxTokens, positiveInt, type RequestState, sendError, sendJson, sleep } from './http.js'

export async function handleEmbeddings(
  state: RequestState,
  body: Record<string, unknown>,
  defaults: { dimensions: number; latencyMs: number },
): Promise<void> {
  const { input } = body
  let texts: string[]
  let tokenCounts: number[]
  const isTokens = (v: unknown): v is number[] => Array.isArray(v) && v.every((n) => typeof n === 'number')
  if (typeof input === 'string') {
    texts = [input]
    tokenCounts = [approxTokens(input.length)]
  } else if (Array.isArray(input) && input.length > 0 && input.every((v) => typeof v === 'string')) {
    texts = input as string[]
    tokenCounts = texts.map((t) => approxTokens(t.length))
  } else if (isTokens(input) && input.length > 0) {
    texts = [input.map((n) => `tok${n}`).join(' ')]
    tokenCounts = [input.length]
  } else if (Array.isArray(input) && input.length > 0 && input.every(isTokens)) {
    const arrays = input as number[][]
    texts = arrays.map((arr) => arr.map((n) => `tok${n}`).join(' '))
    tokenCounts = arrays.map((arr) => arr.length)
  } else {
    sendError(
      state,
      400,
      "'input' must be a non-empty string, array of strings, or array of token arrays.",
      null,
    )
    return
  }
  if (typeof body.model !== 'string' || body.model === '') {
    sendError(state, 400, "'model' is required.", null)
    return
  }
  let dimensions = defaults.dimensions
  if (body.dimensions !== undefined && body.dimensions !== null) {
    const requested = positiveInt(body.dimensions)
    if (requested === undefined || requested > 8192) {
      sendError(state, 400, "'dimensions' must be a positive integer.", null)
      return
    }
    dimensions = requested
  }
  const format = body.encoding_format ?? 'float'
  if (format !== 'float' && format !== 'base64') {
    sendError(state, 400, "'encoding_format' must be 'float' or 'base64'.", null)
    return
  }
  await sleep(defaults.latencyMs, state.closed.signal)
  const promptTokens = tokenCounts.reduce((a, b) => a + b, 0)
  sendJson(state, 200, {
    object: 'list',
    data: texts.map((text, index) => {
      const vector = deterministicEmbedding(text, dimensions)
      return { object: 'embedding', index, embedding: format === 'base64' ? float32Base64(vector) : vector }
    }),
    model: body.model,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  })
}
