/** A text's words as shingles count them: lower case, letters and digits only. */
function normalisedWords(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []
}

/** Word shingles of normalised text: case, punctuation and spacing differences don't count. */
export function wordShingles(text: string, size = 3): Set<string> {
  const words = normalisedWords(text)
  const shingles = new Set<string>()
  if (words.length <= size) {
    if (words.length > 0) shingles.add(words.join(' '))
    return shingles
  }
  for (let i = 0; i + size <= words.length; i++) shingles.add(words.slice(i, i + size).join(' '))
  return shingles
}

/** Most words a ShingleVocabulary numbers: a shingle's key holds three word numbers of 17 bits. */
const MAX_VOCABULARY = 2 ** 17 - 1

/**
 * Word shingles as numbers: each distinct word of the texts shingled through one vocabulary gets a
 * number, and a shingle is the number made of its words' (plus one; zero pads a text of fewer than three
 * words). The sets are wordShingles' one to one (same sizes, same overlaps between texts of one
 * vocabulary), built without a string per shingle. Undefined once the texts hold more distinct words
 * than a key can number (wordShingles then).
 */
export class ShingleVocabulary {
  readonly #ids = new Map<string, number>()

  readonly #maxWords: number

  /** `maxWords` (tests) can only lower the limit: past 2^17 − 1 words, keys would collide. */
  constructor(maxWords = MAX_VOCABULARY) {
    this.#maxWords = Math.min(maxWords, MAX_VOCABULARY)
  }

  shingles(text: string): Set<number> | undefined {
    const words = normalisedWords(text)
    const ids = new Array<number>(words.length)
    for (let i = 0; i < words.length; i++) {
      const word = words[i] as string
      let id = this.#ids.get(word)
      if (id === undefined) {
        if (this.#ids.size >= this.#maxWords) return undefined
        id = this.#ids.size + 1
        this.#ids.set(word, id)
      }
      ids[i] = id
    }
    const shingles = new Set<number>()
    if (ids.length < 3) {
      if (ids.length > 0) shingles.add(shingleKey(ids[0] as number, ids[1] ?? 0, 0))
      return shingles
    }
    for (let i = 0; i + 3 <= ids.length; i++)
      shingles.add(shingleKey(ids[i] as number, ids[i + 1] as number, ids[i + 2] as number))
    return shingles
  }
}

/** Three word numbers (each under 2^17) as one number, under 2^51. */
function shingleKey(a: number, b: number, c: number): number {
  return (a * 2 ** 17 + b) * 2 ** 17 + c
}

export function jaccard<T>(a: ReadonlySet<T>, b: ReadonlySet<T>): number {
  if (a.size === 0 && b.size === 0) return 1
  const [small, large] = a.size <= b.size ? [a, b] : [b, a]
  let shared = 0
  for (const item of small) if (large.has(item)) shared++
  return shared / (a.size + b.size - shared)
}

/**
 * `jaccard(a, b) >= threshold`, stopping as soon as the shingles left to compare could no longer lift
 * it to the threshold. Most pairs a packing compares share few shingles, so this reads a few of them
 * instead of all. The answer is jaccard's: the final test is the same division, and the early one
 * divides with the most shingles the pair could still share (the ratio only grows with them).
 */
export function jaccardAtLeast<T>(a: ReadonlySet<T>, b: ReadonlySet<T>, threshold: number): boolean {
  if (a.size === 0 && b.size === 0) return 1 >= threshold
  const [small, large] = a.size <= b.size ? [a, b] : [b, a]
  const total = a.size + b.size
  let shared = 0
  let left = small.size
  for (const item of small) {
    left--
    if (large.has(item)) shared++
    else if ((shared + left) / (total - shared - left) < threshold) return false
  }
  return shared / (total - shared) >= threshold
}

const MAX_OVERLAP_CHARS = 4000
const MIN_OVERLAP_CHARS = 20

/**
 * Join the texts of two adjacent chunks. Chunkers repeat the end of one chunk at the start of the
 * next; that repeated text is kept once. The longest suffix of `first` that is a prefix of `second`
 * is found with the KMP failure function in linear time; overlaps shorter than 20 characters are
 * treated as coincidence.
 */
export function joinAdjacent(first: string, second: string): string {
  const overlap = longestSuffixPrefix(first.slice(-MAX_OVERLAP_CHARS), second.slice(0, MAX_OVERLAP_CHARS))
  if (overlap >= MIN_OVERLAP_CHARS) return first + second.slice(overlap)
  return `${first}\n\n${second}`
}

function longestSuffixPrefix(tail: string, head: string): number {
  const s = `${head}\u0000${tail}`
  const failure = new Array<number>(s.length).fill(0)
  for (let i = 1; i < s.length; i++) {
    let j = failure[i - 1]!
    while (j > 0 && s[i] !== s[j]) j = failure[j - 1]!
    if (s[i] === s[j]) j++
    failure[i] = j
  }
  return failure[s.length - 1] ?? 0
}
