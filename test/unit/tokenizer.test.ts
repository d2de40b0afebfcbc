import { Tiktoken } from 'js-tiktoken/lite'
import cl100kBase from 'js-tiktoken/ranks/cl100k_base'
import o200kBase from 'js-tiktoken/ranks/o200k_base'
import { describe, expect, it } from 'vitest'
import { estimateUsage } from '../../src/generation/model-call.js'
import { countTokens, encodingForModel } from '../../src/tokens/tokenizer.js'

const TEXTS = [
  'Write in plain English. Use short sentences and active voice.',
  'Привет мир, как дела? Это тест.',
  '你好，世界。今天天气很好。',
  "    indented code\n\tmore\r\n\r\nIt's 2024: 1234567 items, $9.99 each!!!",
  '🙂 emoji and accents: café, naïve, Zürich',
]

describe('the tokenizer', () => {
  it('counts exactly what the full encoder counts, in both encodings, twice (cached) as once', () => {
    const full = { cl100k_base: new Tiktoken(cl100kBase), o200k_base: new Tiktoken(o200kBase) }
    for (const text of TEXTS) {
      for (const encoding of ['cl100k_base', 'o200k_base'] as const) {
        const expected = full[encoding].encode(text).length
        expect(countTokens(text, encoding)).toBe(expected)
        expect(countTokens(text, encoding)).toBe(expected)
      }
    }
  })

  it('counts the same text differently in the two encodings, so the encoding passed matters', () => {
    expect(countTokens('你好，世界。今天天气很好。', 'cl100k_base')).toBeGreaterThan(
      countTokens('你好，世界。今天天气很好。', 'o200k_base'),
    )
  })

  it('counts a special-token string as plain text instead of throwing', () => {
    expect(countTokens('before <|endoftext|> after', 'cl100k_base')).toBeGreaterThan(3)
    expect(countTokens('<|endoftext|>', 'o200k_base')).toBeGreaterThan(1)
  })

  it("knows the encoding of OpenAI's models, fine-tunes included, and estimates others with o200k_base", () => {
    expect(encodingForModel('gpt-4o-mini')).toBe('o200k_base')
    expect(encodingForModel('ft:gpt-4o-mini-2024-07-18:acme:copy:abc123')).toBe('o200k_base')
    expect(encodingForModel('gpt-4.1-nano')).toBe('o200k_base')
    expect(encodingForModel('o3-mini')).toBe('o200k_base')
    expect(encodingForModel('gpt-4-turbo')).toBe('cl100k_base')
    expect(encodingForModel('gpt-3.5-turbo')).toBe('cl100k_base')
    expect(encodingForModel('ft:gpt-3.5-turbo-0125:acme::xyz')).toBe('cl100k_base')
    expect(encodingForModel('text-embedding-3-small')).toBe('cl100k_base')
    expect(encodingForModel('llama3.1:8b')).toBe('o200k_base')
  })

  it('estimates usage in the encoding of the model that answered', async () => {
    const messages = [{ role: 'user' as const, content: '你好，世界。今天天气很好。' }]
    const gpt4 = await estimateUsage('gpt-4', messages, '你好')
    const gpt4o = await estimateUsage('gpt-4o', messages, '你好')
    expect(gpt4.promptTokens).toBe(3 + 4 + countTokens(messages[0]!.content, 'cl100k_base'))
    expect(gpt4o.promptTokens).toBe(3 + 4 + countTokens(messages[0]!.content, 'o200k_base'))
    expect(gpt4.promptTokens).toBeGreaterThan(gpt4o.promptTokens)
  })
})
