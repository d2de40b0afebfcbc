import { Tiktoken } from 'js-tiktoken/lite'
import cl100k from 'js-tiktoken/ranks/cl100k_base'
import o200k from 'js-tiktoken/ranks/o200k_base'
import type { EncodingName } from '../../src/tokens/bpe.js'

/** js-tiktoken itself, the reference the new encoder must match id for id. */
const references = new Map<EncodingName, Tiktoken>()

export function jsTiktoken(encoding: EncodingName): Tiktoken {
  let reference = references.get(encoding)
  if (reference === undefined) {
    reference = new Tiktoken(encoding === 'cl100k_base' ? cl100k : o200k)
    references.set(encoding, reference)
  }
  return reference
}

/** js-tiktoken's ordinary encoding: special-token text is plain text (what the new encoder does by default). */
export function jsTiktokenEncode(text: string, encoding: EncodingName): number[] {
  return jsTiktoken(encoding).encode(text, [], [])
}

/**
 * js-tiktoken's algorithm with its own tables and pattern, but the merge written the way tiktoken's Rust
 * `byte_pair_merge` is (pair ranks cached, only the two neighbours of a merge looked up again), so pieces
 * of tens of thousands of bytes, which js-tiktoken itself needs minutes for, take a fraction of a
 * second. Independent of src/tokens: no shared code or tables.
 */
export function referenceEncode(text: string, encoding: EncodingName): number[] {
  const reference = jsTiktoken(encoding)
  // js-tiktoken's internal tables; the test reads them so the reference shares nothing with src/tokens.
  const internals = reference as unknown as { rankMap: Map<string, number>; patStr: string }
  const rankOf = (bytes: Uint8Array) => internals.rankMap.get(bytes.join(','))
  const out: number[] = []
  for (const [piece] of text.matchAll(new RegExp(internals.patStr, 'gu'))) {
    const bytes = new TextEncoder().encode(piece)
    const whole = rankOf(bytes)
    if (whole !== undefined) out.push(whole)
    else out.push(...mergeByScanning(bytes, rankOf))
  }
  return out
}

function mergeByScanning(bytes: Uint8Array, rankOf: (bytes: Uint8Array) => number | undefined): number[] {
  const starts = Array.from({ length: bytes.length + 1 }, (_, i) => i)
  const pairRank = (i: number) =>
    i + 2 < starts.length
      ? (rankOf(bytes.subarray(starts[i]!, starts[i + 2]!)) ?? Number.POSITIVE_INFINITY)
      : Number.POSITIVE_INFINITY
  const ranks = starts.slice(0, -1).map((_, i) => pairRank(i))
  for (;;) {
    let at = -1
    let best = Number.POSITIVE_INFINITY
    for (let i = 0; i < ranks.length; i++) {
      if (ranks[i]! < best) {
        best = ranks[i]!
        at = i
      }
    }
    if (at < 0) break
    starts.splice(at + 1, 1)
    ranks.splice(at + 1, 1)
    ranks[at] = pairRank(at)
    if (at > 0) ranks[at - 1] = pairRank(at - 1)
  }
  return starts.slice(0, -1).map((start, i) => rankOf(bytes.subarray(start, starts[i + 1]))!)
}
