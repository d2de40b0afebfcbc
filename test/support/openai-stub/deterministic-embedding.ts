/**
 * Deterministic, "semantic enough" embeddings for the OpenAI-wire stub: a feature-hashing bag of words,
 * so texts that share words are near each other and retrieval tests can rank by meaning.
 */

const STOPWORDS = new Set([
  'a',
  'an',
  'and',
  'are',
  'as',
  'at',
  'be',
  'been',
  'but',
  'by',
  'can',
  'do',
  'does',
  'for',
  'from',
  'had',
  'has',
  'have',
  'he',
  'her',
  'his',
  'how',
  'i',
  'if',
  'in',
  'into',
  'is',
  'it',
  'its',
  'me',
  'my',
  'not',
  'of',
  'on',
  'or',
  'our',
  'she',
  'so',
  'than',
  'that',
  'the',
  'their',
  'them',
  'then',
  'there',
  'these',
  'they',
  'this',
  'those',
  'to',
  'was',
  'we',
  'were',
  'what',
  'when',
  'where',
  'which',
  'who',
  'why',
  'will',
  'with',
  'would',
  'you',
  'your',
])

const TOKEN_WEIGHT = 1
/** Total weight of a token's trigrams (spread over them), lower than the token itself. */
const TRIGRAM_WEIGHT = 0.8

export function fnv1a(text: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  // murmur3 fmix32 finaliser: FNV-1a's low bits mix poorly, and buckets use them.
  hash ^= hash >>> 16
  hash = Math.imul(hash, 0x85ebca6b)
  hash ^= hash >>> 13
  hash = Math.imul(hash, 0xc2b2ae35)
  hash ^= hash >>> 16
  return hash >>> 0
}

/** "runn" -> "run", "stopp" -> "stop" (but keep "fall", "pass", "buzz"). */
function undouble(stemmed: string): string {
  const last = stemmed.at(-1)
  if (
    stemmed.length > 2 &&
    last === stemmed.at(-2) &&
    last !== undefined &&
    !'lsz'.includes(last) &&
    !'aeiou'.includes(last)
  ) {
    return stemmed.slice(0, -1)
  }
  return stemmed
}

function stem(token: string): string {
  if (token.length > 5 && token.endsWith('ing')) return undouble(token.slice(0, -3))
  if (token.length > 4 && token.endsWith('ed')) return undouble(token.slice(0, -2))
  if (token.length > 3 && token.endsWith('s') && !token.endsWith('ss')) return token.slice(0, -1)
  return token
}

/** Lowercased, stopword-free, crudely stemmed word tokens. */
export function embeddingTokens(text: string): string[] {
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []
  const out: string[] = []
  for (const word of words) {
    if (STOPWORDS.has(word)) continue
    out.push(stem(word))
  }
  return out
}

function addFeature(vector: number[], feature: string, weight: number): void {
  const hash = fnv1a(feature)
  const bucket = hash % vector.length
  const sign = hash >>> 31 === 0 ? 1 : -1
  vector[bucket] = (vector[bucket] ?? 0) + sign * weight
}

/**
 * Feature-hashing bag of words: stemmed tokens at full weight plus their
 * character trigrams at lower weight, L2-normalised. Texts sharing words get a
 * high cosine similarity. Values are rounded to float32 so the float and
 * base64 wire encodings carry identical numbers.
 */
export function deterministicEmbedding(text: string, dimensions: number): number[] {
  const size = Math.max(0, Math.floor(dimensions))
  const vector = new Array<number>(size).fill(0)
  if (size === 0) return vector
  for (const token of embeddingTokens(text)) {
    addFeature(vector, `w:${token}`, TOKEN_WEIGHT)
    const padded = `^${token}$`
    const trigramCount = Math.max(1, padded.length - 2)
    const weight = TRIGRAM_WEIGHT / Math.sqrt(trigramCount)
    for (let i = 0; i + 3 <= padded.length; i++) {
      addFeature(vector, `t:${padded.slice(i, i + 3)}`, weight)
    }
  }
  let norm = 0
  for (const v of vector) norm += v * v
  norm = Math.sqrt(norm)
  if (norm < 1e-9) {
    // No usable tokens (or they cancelled out): a fixed unit vector.
    vector.fill(0)
    vector[0] = 1
    return vector
  }
  return vector.map((v) => Math.fround(v / norm))
}

export function float32Base64(values: number[]): string {
  const buffer = Buffer.alloc(values.length * 4)
  values.forEach((v, i) => {
    buffer.writeFloatLE(v, i * 4)
  })
  return buffer.toString('base64')
}
