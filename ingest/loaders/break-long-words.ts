/**
 * The longest unbroken run of non-space characters kept as one word. Longer runs (data: URIs,
 * base64 blobs, minified code) get a line break every this many characters: the chunker would cut
 * them into slices of a quarter chunk anyway, but the tokenizer first sees the whole run as one
 * piece, and a 25 MB piece costs about 1 GB of memory there. 1,000 characters is above any real
 * word or ordinary URL.
 */
export const MAX_WORD_CHARS = 1000

/** Break runs of non-space characters longer than MAX_WORD_CHARS; one linear pass. */
export function breakLongWords(text: string, max = MAX_WORD_CHARS): string {
  if (text.length <= max) return text
  let out = ''
  let from = 0
  let run = 0
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code <= 32) {
      run = 0
      continue
    }
    // Never between the halves of a surrogate pair.
    if (run >= max && !(code >= 0xdc00 && code <= 0xdfff)) {
      out += `${text.slice(from, i)}\n`
      from = i
      run = 0
    }
    run++
  }
  return from === 0 ? text : out + text.slice(from)
}
