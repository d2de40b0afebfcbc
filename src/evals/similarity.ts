/** Lowercased word tokens (letters and digits of any script), what ROUGE-L compares. */
function tokens(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []
}

/** Length of the longest common subsequence, in O(n·m) time and O(m) memory. */
function lcsLength(a: string[], b: string[]): number {
  let previous = new Array<number>(b.length + 1).fill(0)
  for (const word of a) {
    const current = new Array<number>(b.length + 1).fill(0)
    for (let j = 1; j <= b.length; j++)
      current[j] = word === b[j - 1] ? previous[j - 1]! + 1 : Math.max(previous[j]!, current[j - 1]!)
    previous = current
  }
  return previous[b.length]!
}

// Outputs and references are capped so one long pair cannot hold the worker (LCS is quadratic).
const MAX_TOKENS = 4000

/** ROUGE-L F1 (β = 1) of a candidate against a reference: 0 when either has no words. */
export function rougeL(candidate: string, reference: string): number {
  const c = tokens(candidate).slice(0, MAX_TOKENS)
  const r = tokens(reference).slice(0, MAX_TOKENS)
  if (c.length === 0 || r.length === 0) return 0
  const lcs = lcsLength(c, r)
  if (lcs === 0) return 0
  const precision = lcs / c.length
  const recall = lcs / r.length
  return (2 * precision * recall) / (precision + recall)
}

export function cosine(a: readonly number[], b: readonly number[]): number {
  let dot = 0
  let na = 0
  let nb = 0
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!
    na += a[i]! * a[i]!
    nb += b[i]! * b[i]!
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb)
}
