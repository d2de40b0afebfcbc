import { countTokens, type Encoding } from '../tokens/tokenizer.js'

/**
 * Checks made before anything is exported, every failing line named. The format checks are those of
 * OpenAI's cookbook ("Data preparation and analysis for chat model fine-tuning"); Onbrand adds special
 * tokens, empty assistant text and a per-example token limit counted with the base model's tokenizer.
 */
export type Rule =
  | 'data_type'
  | 'missing_messages_list'
  | 'message_missing_key'
  | 'message_unrecognized_key'
  | 'unrecognized_role'
  | 'missing_content'
  | 'example_missing_assistant_message'
  | 'special_token'
  | 'empty_assistant_message'
  | 'too_many_tokens'
  | 'too_few_examples'
  | 'few_examples'

export interface Finding {
  rule: Rule
  /** `train:3`: the split and the 1-based line of the JSONL file; absent for whole-dataset findings. */
  line?: string
  generationId?: string
  message: string
}

export interface ValidationInput {
  /** The lines of one split, as the JSONL will hold them (parsed). */
  lines: { split: 'train' | 'validation'; line: number; generationId?: string; value: unknown }[]
  encoding: Encoding
  exampleTokenLimit: number
  /** Price per 1M trained tokens of the base model; undefined when not configured. */
  trainingPricePer1M?: number
}

export interface ValidationReport {
  errors: Finding[]
  warnings: Finding[]
  /** 500 training examples and no errors: enough clean data to try fine-tuning (DESIGN.md). */
  ready: boolean
  /** Tokens per example, in the order of `lines`; null for a line that is not a valid example. */
  tokens: (number | null)[]
  estimate: {
    trainExamples: number
    epochs: number
    billedTokens: number
    trainingPricePer1M: number | null
    costUsd: number | null
  }
}

export const MIN_EXAMPLES = 10
export const WARN_EXAMPLES = 50
export const READY_EXAMPLES = 500

const ALLOWED_KEYS = new Set(['role', 'content', 'name', 'function_call', 'weight'])
const ROLES = new Set(['system', 'user', 'assistant', 'function'])
/** Strings a tokenizer would read as control tokens (`<|endoftext|>`, `<|im_start|>`, `<|fim_prefix|>`, …). */
const SPECIAL_TOKEN = /<\|[a-z_]{2,40}\|>/i

// The cookbook's default-epochs rule.
const TARGET_EPOCHS = 3
const MIN_TARGET_EXAMPLES = 100
const MAX_TARGET_EXAMPLES = 25_000
const MIN_DEFAULT_EPOCHS = 1
const MAX_DEFAULT_EPOCHS = 25

export function defaultEpochs(trainExamples: number): number {
  if (trainExamples === 0) return TARGET_EPOCHS
  if (trainExamples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES) {
    return Math.min(MAX_DEFAULT_EPOCHS, Math.floor(MIN_TARGET_EXAMPLES / trainExamples))
  }
  if (trainExamples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES) {
    return Math.max(MIN_DEFAULT_EPOCHS, Math.floor(MAX_TARGET_EXAMPLES / trainExamples))
  }
  return TARGET_EPOCHS
}

/** Tokens of a chat example as the cookbook counts them: 3 per message, its values, 3 to prime the reply. */
function exampleTokens(messages: Record<string, unknown>[], encoding: Encoding): number {
  let total = 3
  for (const message of messages) {
    total += 3
    for (const [key, value] of Object.entries(message)) {
      if (typeof value === 'string') total += countTokens(value, encoding)
      if (key === 'name') total += 1
    }
  }
  return total
}

/** The format findings of one line (the cookbook's checks, then Onbrand's), and its tokens when countable. */
function checkLine(
  value: unknown,
  input: ValidationInput,
): { rules: [Rule, string][]; tokens: number | null } {
  const rules: [Rule, string][] = []
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { rules: [['data_type', 'the line is not a JSON object']], tokens: null }
  }
  const messages = (value as { messages?: unknown }).messages
  if (!Array.isArray(messages) || messages.length === 0) {
    return { rules: [['missing_messages_list', 'no "messages" list']], tokens: null }
  }
  messages.forEach((message, index) => {
    const where = `messages[${index}]`
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      rules.push(['data_type', `${where} is not an object`])
      return
    }
    const m = message as Record<string, unknown>
    if (!('role' in m) || !('content' in m))
      rules.push(['message_missing_key', `${where} lacks role or content`])
    const unknown = Object.keys(m).filter((key) => !ALLOWED_KEYS.has(key))
    if (unknown.length > 0) rules.push(['message_unrecognized_key', `${where} has ${unknown.join(', ')}`])
    if (!ROLES.has(m.role as string))
      rules.push(['unrecognized_role', `${where} has role ${JSON.stringify(m.role)}`])
    if ((!m.content && !m.function_call) || typeof m.content !== 'string') {
      rules.push(['missing_content', `${where} has no text content`])
    } else {
      const special = SPECIAL_TOKEN.exec(m.content)
      if (special) rules.push(['special_token', `${where} contains the special token ${special[0]}`])
    }
    if (m.role === 'assistant' && typeof m.content === 'string' && m.content.trim() === '') {
      rules.push(['empty_assistant_message', `${where} is an empty assistant message`])
    }
  })
  if (!messages.some((m) => (m as { role?: unknown } | null)?.role === 'assistant')) {
    rules.push(['example_missing_assistant_message', 'no assistant message'])
  }
  const countable = messages.every((m) => typeof m === 'object' && m !== null && !Array.isArray(m))
  const tokens = countable ? exampleTokens(messages as Record<string, unknown>[], input.encoding) : null
  if (tokens !== null && tokens > input.exampleTokenLimit) {
    rules.push([
      'too_many_tokens',
      `${tokens} tokens, over the base model's limit of ${input.exampleTokenLimit}`,
    ])
  }
  return { rules, tokens }
}

export function validateDataset(input: ValidationInput): ValidationReport {
  const errors: Finding[] = []
  const warnings: Finding[] = []
  const tokens: (number | null)[] = []
  for (const line of input.lines) {
    const checked = checkLine(line.value, input)
    tokens.push(checked.tokens)
    for (const [rule, message] of checked.rules) {
      errors.push({
        rule,
        line: `${line.split}:${line.line}`,
        ...(line.generationId ? { generationId: line.generationId } : {}),
        message,
      })
    }
  }
  const train = input.lines.filter((line) => line.split === 'train')
  if (train.length < MIN_EXAMPLES) {
    errors.push({
      rule: 'too_few_examples',
      message: `${train.length} training examples; fine-tuning needs at least ${MIN_EXAMPLES}`,
    })
  } else if (train.length < WARN_EXAMPLES) {
    warnings.push({
      rule: 'few_examples',
      message: `${train.length} training examples; fewer than ${WARN_EXAMPLES} rarely changes a model's behaviour`,
    })
  }
  const epochs = defaultEpochs(train.length)
  const trainTokens = input.lines.reduce(
    (sum, line, index) =>
      line.split === 'train' ? sum + Math.min(input.exampleTokenLimit, tokens[index] ?? 0) : sum,
    0,
  )
  const billedTokens = trainTokens * epochs
  const price = input.trainingPricePer1M
  return {
    errors,
    warnings,
    ready: errors.length === 0 && train.length >= READY_EXAMPLES,
    tokens,
    estimate: {
      trainExamples: train.length,
      epochs,
      billedTokens,
      trainingPricePer1M: price ?? null,
      costUsd: price === undefined ? null : (billedTokens * price) / 1e6,
    },
  }
}
