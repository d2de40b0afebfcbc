/** Word shingles of normalised text: case, punctuation and spacing differences don't count. */
export function wordShingles(text: string, size = 3): Set<string> {
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []
  const shingles = new Set<string>()
  if (words.length <= size) {
    if (words.length > 0) shingles.add(words.join(' '))
    return shingles
  }
  for (let i = 0; i + size <= words.length; i++) shingles.add(words.slice(i, i + size).join(' '))
  return shingles
}

export function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
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
export function jaccardAtLeast(a: ReadonlySet<string>, b: ReadonlySet<string>, threshold: number): boolean {
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
