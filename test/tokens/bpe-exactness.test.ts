import { describe, expect, it, vi } from 'vitest'
import { decode, ENCODING_NAMES, encode, SpecialTokenError } from '../../src/tokens/bpe.js'
import { cjkRun, fuzzString, letterRun, lowercaseRun, seededRandom, symbolRun } from './hostile-text.js'
import { jsTiktoken, jsTiktokenEncode, referenceEncode } from './reference-bpe.js'

// js-tiktoken, the reference, is slow (quadratic on the long pieces here): allow for a busy machine.
vi.setConfig({ testTimeout: 180_000 })

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

// Inputs js-tiktoken can still encode in a second or two: its merge is quadratic in a piece's length.
const hostile: string[] = [
  '',
  ...range(1, 70).map((n) => lowercaseRun(n, n)),
  ...[100, 200, 257, 500, 2000].map((n) => lowercaseRun(n, n)),
  ...[64, 300, 500].map((n) => letterRun(n, n)),
  'a'.repeat(500),
  'A'.repeat(400),
  'aAaAaA'.repeat(50),
  ...range(1, 40).map((n) => cjkRun(n, n)),
  cjkRun(300),
  '😀'.repeat(150),
  '👩‍👩‍👧‍👦 🏳️‍🌈 👍🏽'.repeat(40),
  'Straße Ελληνικά русский 中文 日本語 한국어 العربية עברית हिन्दी Ωmega',
  'naïve café résumé façade coöperate',
  'e\u0301'.repeat(200),
  `A${'\u0301'.repeat(300)}`,
  `中${'A'.repeat(500)}!`,
  ...range(1, 40).map((n) => ' '.repeat(n)),
  ...range(1, 12).map((n) => `${' '.repeat(n)}x`),
  ' '.repeat(500),
  `${' '.repeat(499)}x`,
  '\t'.repeat(300),
  '\n'.repeat(300),
  ' \n'.repeat(300),
  '\r\n'.repeat(200),
  `${' '.repeat(20)}\n\n${' '.repeat(5)}word\n`,
  '\u00a0'.repeat(200),
  '\u3000'.repeat(100),
  '\u2003 \u2009\u200b\u2028\u2029\u205f end',
  ...range(1, 20).map((n) => '7'.repeat(n)),
  '1234567890'.repeat(100),
  '1,234,567.89 and 3.14159 and 0x1F and 1e-9',
  'abc123def456ghi',
  "'".repeat(200),
  "'s'S'll'LL're'RE've'VE'm'M'd'D't'T",
  "don't DON'T we'll WE'LL it's IT'S rock'n'roll ''s '\u2019s",
  '<|endoftext|>',
  '<|endoftext|',
  '<|endofprompt|>',
  '<|fim_prefix|><|fim_middle|><|fim_suffix|>',
  'x<|endoftext|>y <|endoftext|><|endoftext|> <||> <| endoftext |>',
  '<|endoftext|>'.repeat(100),
  'function f(x) { return x * 2 } // comment\n\tif (a && b || !c) {}\n',
  'https://example.com/a/b?c=d&e=f#g //x///y////z',
  symbolRun(300),
  '\u0000\u0001\u0002\u001b[31m\u007f\ufeff',
  '\ud800',
  'a\udc00b',
  '\ud83d',
  '\ud83d\ude00\ud83d',
]

function base64Blob(length: number): string {
  const random = seededRandom(7)
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
  return Array.from({ length }, () => alphabet[Math.floor(random() * 64)]).join('')
}

function randomLatin1(length: number): string {
  const random = seededRandom(8)
  return Array.from({ length }, () => String.fromCharCode(Math.floor(random() * 256))).join('')
}

hostile.push(base64Blob(3000), randomLatin1(5000))

describe.each(ENCODING_NAMES)('%s', (encoding) => {
  it('encodes hostile strings exactly as js-tiktoken does', () => {
    for (const text of hostile)
      expect(encode(text, encoding), JSON.stringify(text.slice(0, 40))).toEqual(
        jsTiktokenEncode(text, encoding),
      )
  })

  it('encodes 2,000 random strings across scripts exactly as js-tiktoken does and decodes them alike', () => {
    const random = seededRandom(encoding === 'cl100k_base' ? 11 : 12)
    const wrong: string[] = []
    for (let i = 0; i < 2000; i++) {
      const text = fuzzString(random, 160)
      const ids = encode(text, encoding)
      const expected = jsTiktokenEncode(text, encoding)
      const decoded = decode(ids, encoding)
      if (ids.length !== expected.length || ids.some((id, j) => id !== expected[j]))
        wrong.push(`encode ${JSON.stringify(text)}`)
      else if (decoded !== jsTiktoken(encoding).decode(ids)) wrong.push(`decode ${JSON.stringify(text)}`)
      // Without lone surrogates (which UTF-8 cannot carry), decoding gives the text back.
      else if (!/[\ud800-\udfff]/u.test(text) && decoded !== text)
        wrong.push(`round trip ${JSON.stringify(text)}`)
    }
    expect(wrong).toEqual([])
  })

  it('merges pieces of tens of thousands of bytes as tiktoken’s own algorithm does', () => {
    const long = [
      lowercaseRun(20_000, 21),
      'a'.repeat(20_000),
      cjkRun(5_000, 22),
      ' '.repeat(20_000),
      symbolRun(10_000, 23),
    ]
    for (const text of long) expect(encode(text, encoding)).toEqual(referenceEncode(text, encoding))
  })

  it('decodes any ids, special, unknown or cutting a character in two, as js-tiktoken does', () => {
    const random = seededRandom(13)
    const top = encoding === 'cl100k_base' ? 100_300 : 200_030
    for (let i = 0; i < 200; i++) {
      const ids = Array.from({ length: 1 + Math.floor(random() * 30) }, () => Math.floor(random() * top))
      expect(decode(ids, encoding)).toBe(jsTiktoken(encoding).decode(ids))
    }
    const emoji = encode('😀 中文', encoding)
    for (let cut = 0; cut <= emoji.length; cut++) {
      expect(decode(emoji.slice(0, cut), encoding)).toBe(jsTiktoken(encoding).decode(emoji.slice(0, cut)))
    }
  })
})

describe('special tokens', () => {
  const text = 'before <|endoftext|> middle <|endofprompt|> after <|fim_prefix|>'

  it.each(ENCODING_NAMES)(
    'treats special-token text as plain text unless asked otherwise (%s)',
    (encoding) => {
      expect(encode(text, encoding)).toEqual(jsTiktoken(encoding).encode(text, [], []))
      expect(encode(text, encoding)).not.toContain(jsTiktoken(encoding).encode('<|endoftext|>', 'all')[0])
    },
  )

  it.each(ENCODING_NAMES)(
    'encodes allowed special tokens as their ids, as js-tiktoken does (%s)',
    (encoding) => {
      for (const allowedSpecial of [
        'all',
        ['<|endoftext|>'],
        ['<|endofprompt|>'],
        ['<|fim_prefix|>'],
      ] as const) {
        expect(encode(text, encoding, { allowedSpecial })).toEqual(
          jsTiktoken(encoding).encode(text, allowedSpecial === 'all' ? 'all' : [...allowedSpecial], []),
        )
      }
      const edge = '<|endoftext|>   <|endoftext|>x \n<|endoftext|>'
      expect(encode(edge, encoding, { allowedSpecial: 'all' })).toEqual(
        jsTiktoken(encoding).encode(edge, 'all'),
      )
    },
  )

  it.each(ENCODING_NAMES)(
    'throws on disallowed special tokens with js-tiktoken’s message (%s)',
    (encoding) => {
      expect(() => encode(text, encoding, { disallowedSpecial: 'all' })).toThrow(SpecialTokenError)
      expect(() => encode(text, encoding, { disallowedSpecial: 'all' })).toThrow(
        'The text contains a special token that is not allowed: <|endoftext|>',
      )
      expect(() => jsTiktoken(encoding).encode(text)).toThrow(
        'The text contains a special token that is not allowed: <|endoftext|>',
      )
      expect(() => encode(text, encoding, { disallowedSpecial: ['<|endofprompt|>'] })).toThrow(
        /<\|endofprompt\|>/,
      )
      const allowedOne = { allowedSpecial: ['<|endoftext|>'], disallowedSpecial: 'all' } as const
      expect(() => encode('a <|endoftext|> b', encoding, allowedOne)).not.toThrow()
      expect(encode('a <|endoftext|> b', encoding, allowedOne)).toEqual(
        jsTiktoken(encoding).encode('a <|endoftext|> b', ['<|endoftext|>']),
      )
    },
  )
})
