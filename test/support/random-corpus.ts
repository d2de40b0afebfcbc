import type { SeedDocument } from './seed-chunks.js'

/**
 * `count` one-chunk documents of made-up words, some common and some rare (a word's chance falls with its
 * index as `skew` rises), from a seeded generator: the same corpus on every run.
 */
export function skewedWordCorpus(input: {
  prefix: string
  words: number
  documents: number
  seed: number
  skew: number
  maxLength: number
}): { words: string[]; documents: SeedDocument[] } {
  const words = Array.from(
    { length: input.words },
    (_, i) => `${input.prefix}${String.fromCharCode(97 + (i % 26))}${i}`,
  )
  let seed = input.seed
  const random = () => {
    seed = (seed * 48271) % 2147483647
    return seed / 2147483647
  }
  const pick = () => words[Math.floor(words.length * random() ** input.skew)]!
  const documents = Array.from({ length: input.documents }, (_, i) => ({
    sourceId: `d${i}`,
    embed: false,
    chunks: [Array.from({ length: 5 + Math.floor(random() * input.maxLength) }, pick).join(' ')],
  }))
  return { words, documents }
}
