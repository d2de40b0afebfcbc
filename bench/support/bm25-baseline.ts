import { stemmer } from 'stemmer'

/**
 * A plain BM25 in JavaScript, the same-run baseline: Lucene's English stop words, lower-casing, the
 * Porter stemmer, Lucene's idf ln(1 + (N − df + 0.5)/(df + 0.5)), k1 0.9 and b 0.4 (BEIR's settings).
 */
const STOP_WORDS = new Set(
  'a an and are as at be but by for if in into is it no not of on or such that the their then there these they this to was will with'.split(
    ' ',
  ),
)

export function analyse(text: string): string[] {
  return (text.toLowerCase().match(/[a-z0-9]+/g) ?? [])
    .filter((w) => !STOP_WORDS.has(w))
    .map((w) => stemmer(w))
}

export class Bm25Index {
  private readonly postings = new Map<string, { doc: number; tf: number }[]>()
  private readonly lengths: number[] = []
  private readonly ids: string[] = []

  constructor(
    documents: readonly { id: string; text: string }[],
    private readonly k1 = 0.9,
    private readonly b = 0.4,
  ) {
    documents.forEach((document, doc) => {
      const terms = analyse(document.text)
      this.ids.push(document.id)
      this.lengths.push(terms.length)
      const counts = new Map<string, number>()
      for (const term of terms) counts.set(term, (counts.get(term) ?? 0) + 1)
      for (const [term, tf] of counts) {
        const list = this.postings.get(term) ?? []
        list.push({ doc, tf })
        this.postings.set(term, list)
      }
    })
  }

  search(query: string, limit: number): string[] {
    const n = this.ids.length
    const average = this.lengths.reduce((sum, l) => sum + l, 0) / n
    const scores = new Map<number, number>()
    for (const term of new Set(analyse(query))) {
      const list = this.postings.get(term)
      if (!list) continue
      const idf = Math.log(1 + (n - list.length + 0.5) / (list.length + 0.5))
      for (const { doc, tf } of list) {
        const norm = this.k1 * (1 - this.b + (this.b * this.lengths[doc]!) / average)
        scores.set(doc, (scores.get(doc) ?? 0) + (idf * tf * (this.k1 + 1)) / (tf + norm))
      }
    }
    return [...scores]
      .sort((x, y) => y[1] - x[1] || x[0] - y[0])
      .slice(0, limit)
      .map(([doc]) => this.ids[doc]!)
  }
}
