/**
 * The checks OpenAI runs on a fine-tuning file while a job is `validating_files`: JSON Lines, one
 * example a line, in the chat format (supervised) or the preference format (DPO). The first bad line is
 * named in the job's error.
 */
import { approxTokens, isRecord } from './http.js'
import { messageText } from './replies.js'

export type FineTuneMethodType = 'supervised' | 'dpo'

export type DataCheck = { ok: true; examples: number; tokens: number } | { ok: false; detail: string }

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function'])

/** The problem with one message, or its token count. */
function checkMessage(message: unknown, where: string): string | number {
  if (!isRecord(message)) return `${where}: expected an object with "role" and "content".`
  const { role, content } = message
  if (typeof role !== 'string' || !ROLES.has(role)) return `${where}: invalid role ${JSON.stringify(role)}.`
  const callsTools =
    role === 'assistant' && (message.tool_calls !== undefined || message.function_call !== undefined)
  if (typeof content !== 'string' && !Array.isArray(content) && !(callsTools && (content ?? null) === null)) {
    return `${where}: "content" must be a string.`
  }
  if (message.weight !== undefined && message.weight !== 0 && message.weight !== 1) {
    return `${where}: "weight" must be 0 or 1.`
  }
  return approxTokens(messageText(content).length)
}

/** Checks a list of messages; `needsAssistant` asks for at least one assistant message. */
function checkMessages(value: unknown, where: string, needsAssistant: boolean): string | number {
  if (!Array.isArray(value) || value.length === 0) return `${where} must be a non-empty array of messages.`
  let tokens = 0
  for (const [i, message] of value.entries()) {
    const checked = checkMessage(message, `${where}, message ${i + 1}`)
    if (typeof checked === 'string') return checked
    tokens += checked
  }
  if (needsAssistant && !value.some((m) => isRecord(m) && m.role === 'assistant')) {
    return `${where} has no assistant message; every example needs one to learn from.`
  }
  return tokens
}

function checkExample(
  example: Record<string, unknown>,
  line: number,
  method: FineTuneMethodType,
): string | number {
  if (method === 'supervised') return checkMessages(example.messages, `Line ${line}, "messages"`, true)
  const input = isRecord(example.input) ? example.input.messages : undefined
  let tokens = 0
  for (const [value, where, needsAssistant] of [
    [input, `Line ${line}, "input.messages"`, false],
    [example.preferred_output, `Line ${line}, "preferred_output"`, true],
    [example.non_preferred_output, `Line ${line}, "non_preferred_output"`, true],
  ] as const) {
    const checked = checkMessages(value, where, needsAssistant)
    if (typeof checked === 'string') return checked
    tokens += checked
  }
  return tokens
}

/** Checks a JSONL training or validation file; blank lines are skipped but still counted for line numbers. */
export function checkFineTuneData(text: string, method: FineTuneMethodType): DataCheck {
  let examples = 0
  let tokens = 0
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    if (raw.trim() === '') continue
    const line = index + 1
    let example: unknown
    try {
      example = JSON.parse(raw)
    } catch {
      return { ok: false, detail: `Line ${line} is not valid JSON.` }
    }
    if (!isRecord(example)) return { ok: false, detail: `Line ${line} is not a JSON object.` }
    const checked = checkExample(example, line, method)
    if (typeof checked === 'string') return { ok: false, detail: checked }
    examples += 1
    tokens += checked
  }
  return { ok: true, examples, tokens }
}
