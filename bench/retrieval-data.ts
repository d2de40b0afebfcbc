/** Deterministic, so two runs load the same corpus and ask the same queries. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    // mulberry32
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function gaussian(random: () => number): number {
  const u = Math.max(random(), Number.EPSILON)
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random())
}

function normalise(vector: Float32Array): Float32Array {
  let norm = 0
  for (const v of vector) norm += v * v
  norm = Math.sqrt(norm)
  for (let i = 0; i < vector.length; i++) vector[i] = vector[i]! / norm
  return vector
}

const SYLLABLES = [
  'ka',
  'lo',
  'mi',
  'ren',
  'to',
  'sa',
  'vel',
  'dor',
  'ni',
  'pa',
  'qua',
  'zen',
  'bri',
  'fo',
  'lu',
  'ter',
]

/** Word number n, spelled with three syllables: distinct numbers give distinct words (up to 4096). */
function word(n: number): string {
  return [n >> 8, (n >> 4) & 15, n & 15].map((digit) => SYLLABLES[digit]).join('')
}

export interface Corpus {
  documents: { sourceId: string; kind: string; title: string; metadata: Record<string, unknown> }[]
  chunks: { document: number; ordinal: number; text: string; tokens: number; vector: Float32Array }[]
  makeQuery(index: number): { text: string; vector: number[] }
}

/**
 * Clustered vectors: `clusters` random unit centres, each chunk its centre plus isotropic noise of the
 * same overall size, normalised (so neighbours are meaningful but not trivially separable). Chunk
 * texts mix words of the cluster's own vocabulary with shared ones.
 */
export function makeCorpus(options: {
  chunks: number
  dims: number
  clusters: number
  chunksPerDocument: number
  random: () => number
}): Corpus {
  const { dims, random } = options
  const noise = 1 / Math.sqrt(dims)
  const centres = Array.from({ length: options.clusters }, () =>
    normalise(Float32Array.from({ length: dims }, () => gaussian(random))),
  )
  // Every word belongs to one cluster's vocabulary or to the shared one, never to two.
  const vocabularies = centres.map((_, c) => Array.from({ length: 30 }, (_, j) => word(c * 30 + j)))
  const shared = Array.from({ length: 200 }, (_, j) => word(options.clusters * 30 + j))
  const near = (cluster: number) => {
    const centre = centres[cluster]!
    return normalise(Float32Array.from(centre, (c) => c + gaussian(random) * noise))
  }
  const documents: Corpus['documents'] = []
  const chunks: Corpus['chunks'] = []
  const documentCount = Math.ceil(options.chunks / options.chunksPerDocument)
  for (let d = 0; d < documentCount; d++) {
    const cluster = Math.floor(random() * options.clusters)
    documents.push({
      sourceId: `docs/${cluster}/${d}.md`,
      kind: d % 10 === 0 ? 'product' : 'guideline',
      title: `Document ${d}`,
      metadata: { cluster },
    })
    for (let o = 0; o < options.chunksPerDocument && chunks.length < options.chunks; o++) {
      const vocabulary = vocabularies[cluster]!
      const words = Array.from({ length: 40 }, () =>
        random() < 0.4
          ? vocabulary[Math.floor(random() * vocabulary.length)]
          : shared[Math.floor(random() * shared.length)],
      )
      const text = words.join(' ')
      chunks.push({
        document: d,
        ordinal: o,
        text,
        tokens: Math.ceil(text.length / 4),
        vector: near(cluster),
      })
    }
  }
  const queryRandom = seededRandom(7)
  return {
    documents,
    chunks,
    makeQuery(index) {
      const cluster = Math.floor(queryRandom() * options.clusters)
      const vocabulary = vocabularies[cluster]!
      const words = Array.from({ length: 3 }, () => vocabulary[Math.floor(queryRandom() * vocabulary.length)])
      return { text: `${words.join(' ')} q${index}`, vector: Array.from(near(cluster)) }
    },
  }
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank]!
}
