import { describe, expect, it } from 'vitest'
import { defaultEpochs, type Rule, validateDataset } from '../../src/datasets/validate-dataset.js'
import { countTokens } from '../../src/tokens/tokenizer.js'

const good = (n: number) => ({
  messages: [
    { role: 'system', content: 'You write copy.' },
    { role: 'user', content: `Item ${n}` },
    { role: 'assistant', content: `Copy for item ${n}.` },
  ],
})

function run(values: unknown[], options: { limit?: number; price?: number; fill?: number } = {}) {
  const fill = Array.from({ length: options.fill ?? 12 }, (_, i) => good(i))
  const lines = [...values, ...fill].map((value, index) => ({
    split: 'train' as const,
    line: index + 1,
    generationId: `gen-${index + 1}`,
    value,
  }))
  return validateDataset({
    lines,
    encoding: 'o200k_base',
    exampleTokenLimit: options.limit ?? 65_536,
    ...(options.price !== undefined ? { trainingPricePer1M: options.price } : {}),
  })
}

/** The findings of line 1 (the bad line each case puts first). */
const rulesOfFirstLine = (values: unknown[], options = {}): Rule[] =>
  run(values, options)
    .errors.filter((e) => e.line === 'train:1')
    .map((e) => e.rule)

describe('dataset validation', () => {
  it('accepts well-formed examples without errors', () => {
    const report = run([])
    expect(report.errors).toEqual([])
    expect(report.tokens.every((t) => t !== null && t > 10)).toBe(true)
  })

  it.each<[Rule, unknown]>([
    ['data_type', ['not', 'an', 'object']],
    ['missing_messages_list', { prompt: 'x', completion: 'y' }],
    ['message_missing_key', { messages: [{ role: 'user' }, { role: 'assistant', content: 'a' }] }],
    [
      'message_unrecognized_key',
      {
        messages: [
          { role: 'user', content: 'q', mood: 'x' },
          { role: 'assistant', content: 'a' },
        ],
      },
    ],
    [
      'unrecognized_role',
      {
        messages: [
          { role: 'critic', content: 'q' },
          { role: 'assistant', content: 'a' },
        ],
      },
    ],
    [
      'missing_content',
      {
        messages: [
          { role: 'user', content: '' },
          { role: 'assistant', content: 'a' },
        ],
      },
    ],
    ['example_missing_assistant_message', { messages: [{ role: 'user', content: 'q' }] }],
    [
      'special_token',
      {
        messages: [
          { role: 'user', content: 'q' },
          { role: 'assistant', content: 'Done.<|endoftext|>' },
        ],
      },
    ],
    [
      'empty_assistant_message',
      {
        messages: [
          { role: 'user', content: 'q' },
          { role: 'assistant', content: '   ' },
        ],
      },
    ],
  ])('names the failing line for %s', (rule, value) => {
    const report = run([value])
    const finding = report.errors.find((e) => e.rule === rule)
    expect(finding, JSON.stringify(report.errors)).toMatchObject({
      rule,
      line: 'train:1',
      generationId: 'gen-1',
    })
    // Only the bad line fails.
    expect(report.errors.every((e) => e.line === 'train:1')).toBe(true)
  })

  it('counts tokens with the base model’s tokenizer and refuses an example over its limit', () => {
    const long = {
      messages: [
        { role: 'user', content: 'word '.repeat(300) },
        { role: 'assistant', content: 'ok' },
      ],
    }
    const report = run([long], { limit: 200 })
    expect(report.errors.map((e) => `${e.line} ${e.rule}`)).toEqual(['train:1 too_many_tokens'])
    // 3 to prime the reply, 3 per message plus its role and content.
    const expected =
      3 +
      (3 + countTokens('user', 'o200k_base') + countTokens('word '.repeat(300), 'o200k_base')) +
      (3 + countTokens('assistant', 'o200k_base') + countTokens('ok', 'o200k_base'))
    expect(report.tokens[0]).toBe(expected)
    expect(rulesOfFirstLine([long], { limit: expected })).toEqual([])
  })

  it('errs below 10 training examples, warns below 50, and is ready from 500', () => {
    expect(run([], { fill: 9 }).errors.map((e) => e.rule)).toEqual(['too_few_examples'])
    const ten = run([], { fill: 10 })
    expect(ten.errors).toEqual([])
    expect(ten.warnings.map((w) => w.rule)).toEqual(['few_examples'])
    expect(run([], { fill: 49 }).warnings.map((w) => w.rule)).toEqual(['few_examples'])
    const fifty = run([], { fill: 50 })
    expect(fifty.warnings).toEqual([])
    expect(fifty.ready).toBe(false)
    expect(run([], { fill: 499 }).ready).toBe(false)
    expect(run([], { fill: 500 }).ready).toBe(true)
    // An error anywhere means not ready, however many examples.
    expect(run([{ messages: [] }], { fill: 500 }).ready).toBe(false)
  })

  it('estimates billed tokens and cost with the cookbook’s default epochs', () => {
    expect(defaultEpochs(10)).toBe(10)
    expect(defaultEpochs(20)).toBe(5)
    expect(defaultEpochs(100)).toBe(3)
    expect(defaultEpochs(10_000)).toBe(2)
    expect(defaultEpochs(30_000)).toBe(1)
    expect(defaultEpochs(2)).toBe(25)
    const report = run([], { fill: 20, price: 3 })
    const tokens = report.tokens.reduce((sum: number, t) => sum + (t ?? 0), 0)
    expect(report.estimate).toEqual({
      trainExamples: 20,
      epochs: 5,
      billedTokens: tokens * 5,
      trainingPricePer1M: 3,
      costUsd: (tokens * 5 * 3) / 1e6,
    })
    expect(run([], { fill: 20 }).estimate.costUsd).toBeNull()
  })
})
