import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { decode, ENCODING_NAMES, encode } from '../../src/tokens/bpe.js'
import { CORPORA_DIR, filesUnder } from './corpus-files.js'
import { jsTiktoken, jsTiktokenEncode } from './reference-bpe.js'

// js-tiktoken, the reference, needs seconds per encoding for the corpora: allow for a busy machine.
vi.setConfig({ testTimeout: 180_000 })

// The corpora whose licences allow their use in tests.
const LICENSED = ['style-guide-govau', 'style-guide-18f', 'products-magento-luma']

const files = LICENSED.flatMap((corpus) => filesUnder(join(CORPORA_DIR, corpus)))

describe.each(ENCODING_NAMES)('%s on the shared corpora', (encoding) => {
  it('encodes every file exactly as js-tiktoken does and decodes the ids back to the file', () => {
    expect(files.length).toBeGreaterThanOrEqual(150)
    const mismatched: string[] = []
    let tokens = 0
    for (const file of files) {
      const text = readFileSync(file, 'utf8')
      const expected = jsTiktokenEncode(text, encoding)
      const ids = encode(text, encoding)
      tokens += ids.length
      if (ids.length !== expected.length || ids.some((id, i) => id !== expected[i])) mismatched.push(file)
      else if (decode(ids, encoding) !== text || jsTiktoken(encoding).decode(ids) !== text)
        mismatched.push(file)
    }
    expect(mismatched).toEqual([])
    expect(tokens).toBeGreaterThan(500_000)
  })
})
