/**
 * What the stub's chat model says when a test has not scripted a reply: an echo of the last user
 * message (the historical default), or with `distinctReplies` a deterministic text that differs by model
 * and request, so evaluation arms on different models really produce different outputs. JSON mode
 * answers a JSON object, for `json_schema` one that conforms to simple schemas.
 */
import { createHash } from 'node:crypto'
import { isRecord } from './http.js'

export interface ChatMessage {
  role: string
  /** The message's text; content parts are joined, and a null or absent content is ''. */
  content: string
}

/** What a judge (see `setJudge`) is given: the request, already taken apart. */
export interface JudgeInput {
  model: string
  /** System and developer messages, joined by a blank line. */
  system: string
  /** The last user message. */
  user: string
  messages: ChatMessage[]
  /** The raw request body (for `response_format`, `temperature`, …). */
  body: Record<string, unknown>
}

/** A judge's answer: strings are sent verbatim, anything else as its JSON text. */
export type JudgeVerdict = string | number | boolean | unknown[] | Record<string, unknown>

export type JudgeFn = (input: JudgeInput) => JudgeVerdict

export type ReplyFn = (body: Record<string, unknown>) => string

export function messageText(content: unknown): string {
  if (typeof content === 'string') return content
  if (Array.isArray(content)) {
    return content.map((part) => (isRecord(part) && typeof part.text === 'string' ? part.text : '')).join('')
  }
  return ''
}

export function chatMessages(body: Record<string, unknown>): ChatMessage[] {
  const messages = Array.isArray(body.messages) ? body.messages : []
  return messages.filter(isRecord).map((m) => ({
    role: typeof m.role === 'string' ? m.role : '',
    content: messageText(m.content),
  }))
}

export function judgeInput(model: string, body: Record<string, unknown>): JudgeInput {
  const messages = chatMessages(body)
  return {
    model,
    system: messages
      .filter((m) => m.role === 'system' || m.role === 'developer')
      .map((m) => m.content)
      .join('\n\n'),
    user: messages.findLast((m) => m.role === 'user')?.content ?? '',
    messages,
    body,
  }
}

/** A judge as a scripted reply. */
export function judgeReply(model: string, judge: JudgeFn): ReplyFn {
  return (body) => {
    const verdict = judge(judgeInput(model, body))
    return typeof verdict === 'string' ? verdict : JSON.stringify(verdict)
  }
}

const WORDS = [
  'clear',
  'warm',
  'bright',
  'steady',
  'simple',
  'honest',
  'bold',
  'calm',
  'fresh',
  'light',
  'sharp',
  'quick',
  'gentle',
  'direct',
  'friendly',
  'plain',
  'useful',
  'careful',
  'vivid',
  'neat',
  'solid',
  'crisp',
  'open',
  'kind',
  'lively',
  'focused',
  'modern',
  'classic',
  'trusted',
  'easy',
  'tent',
  'trail',
  'guide',
  'voice',
  'story',
  'style',
  'offer',
  'detail',
  'choice',
  'journey',
  'season',
  'promise',
  'moment',
  'feature',
  'update',
  'answer',
  'design',
  'colour',
  'comfort',
  'quality',
  'value',
  'summit',
  'river',
  'forest',
  'harbour',
  'morning',
  'weekend',
  'signal',
  'thread',
  'canvas',
  'anchor',
  'compass',
  'lantern',
  'meadow',
] as const

/** The bytes every distinct reply of one model to one conversation is drawn from. */
function replySeed(model: string, messages: ChatMessage[]): Buffer {
  const hash = createHash('sha256').update(model)
  for (const m of messages) hash.update(`\n${m.role}\n${m.content}`)
  return hash.digest()
}

function word(seed: Buffer, index: number): string {
  return WORDS[(seed[index % seed.length] ?? 0) % WORDS.length] ?? 'clear'
}

const capitalise = (w: string): string => w.charAt(0).toUpperCase() + w.slice(1)

/**
 * A short deterministic reply that depends on the model id and on every message of the request. Models
 * whose id contains `ft:` answer in another, terser style, the way a fine-tuned model would. Both cite
 * passage [1] like the echo reply does.
 */
export function distinctReply(model: string, messages: ChatMessage[]): string {
  const seed = replySeed(model, messages)
  const lastUser = messages.findLast((m) => m.role === 'user')?.content ?? ''
  const topic = lastUser.replace(/\s+/g, ' ').trim().slice(0, 40) || 'your request'
  const w = (i: number): string => word(seed, i)
  if (model.includes('ft:')) {
    return `${capitalise(w(0))}. ${capitalise(w(1))}. ${capitalise(w(2))} ${w(3)} ${w(4)}: ${topic} [1].`
  }
  return `Here is a ${w(0)} take on "${topic}": ${w(1)} ${w(2)}, ${w(3)} and ${w(4)} [1].`
}

/** The reply when no `setReply`/`setJudge` applies to the model. */
export function defaultReply(model: string, body: Record<string, unknown>, distinct: boolean): string {
  const messages = chatMessages(body)
  const lastUser = messages.findLast((m) => m.role === 'user')?.content ?? ''
  const text = distinct ? distinctReply(model, messages) : `Echo: ${lastUser.slice(0, 60)} [1]`
  const format = body.response_format
  if (isRecord(format)) {
    if (format.type === 'json_object') return JSON.stringify({ reply: text })
    if (format.type === 'json_schema') {
      const schema = isRecord(format.json_schema) ? format.json_schema.schema : undefined
      const sampler = new SchemaSampler(
        schema,
        distinct ? replySeed(model, messages).toString('hex') : undefined,
      )
      return JSON.stringify(sampler.sample(schema, '$', 0))
    }
  }
  return text
}

/**
 * Builds a value that conforms to a simple JSON schema: objects (every property, so `required` holds),
 * strings (length bounds, enum, const, a few formats; `pattern` is not honoured), numbers and integers
 * (bounds), booleans, arrays (`minItems`/`maxItems`), `anyOf`/`oneOf`/`allOf` (first branch), nullable
 * types and local `$ref`s. Without a seed it is the historical placeholder (`'stub'`, 0, false, `[]`);
 * with one, the values are drawn from it, so they differ by model and request.
 */
class SchemaSampler {
  constructor(
    private readonly root: unknown,
    private readonly seed: string | undefined,
  ) {}

  private bytes(path: string): Buffer {
    return createHash('sha256').update(`${this.seed}|${path}`).digest()
  }

  private resolve(ref: string): unknown {
    if (!ref.startsWith('#')) return undefined
    let node: unknown = this.root
    for (const part of ref.slice(1).split('/').filter(Boolean)) {
      node = isRecord(node) ? node[part.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined
    }
    return node
  }

  sample(schema: unknown, path: string, depth: number): unknown {
    if (!isRecord(schema) || depth > 16) return null
    if (typeof schema.$ref === 'string') return this.sample(this.resolve(schema.$ref), path, depth + 1)
    if ('const' in schema) return schema.const
    if (Array.isArray(schema.enum) && schema.enum.length > 0) {
      const pick = this.seed === undefined ? 0 : (this.bytes(path)[0] ?? 0) % schema.enum.length
      return schema.enum[pick]
    }
    for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
      const options = schema[key]
      if (Array.isArray(options) && options.length > 0) return this.sample(options[0], path, depth + 1)
    }
    let type = schema.type
    if (Array.isArray(type)) type = type.find((t) => t !== 'null') ?? type[0]
    switch (type) {
      case 'object':
        return this.object(schema, path, depth)
      case 'array':
        return this.array(schema, path, depth)
      case 'string':
        return this.string(schema, path)
      case 'number':
      case 'integer':
        return this.number(schema, path, type === 'integer')
      case 'boolean':
        return this.seed === undefined ? false : ((this.bytes(path)[0] ?? 0) & 1) === 1
      case 'null':
        return null
      default:
        return isRecord(schema.properties) ? this.object(schema, path, depth) : null
    }
  }

  private object(schema: Record<string, unknown>, path: string, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {}
    const props = isRecord(schema.properties) ? schema.properties : {}
    for (const [name, sub] of Object.entries(props))
      out[name] = this.sample(sub, `${path}.${name}`, depth + 1)
    const required = Array.isArray(schema.required) ? schema.required : []
    for (const name of required) {
      if (typeof name === 'string' && !(name in out)) out[name] = this.string({}, `${path}.${name}`)
    }
    return out
  }

  private array(schema: Record<string, unknown>, path: string, depth: number): unknown[] {
    const min = typeof schema.minItems === 'number' ? schema.minItems : 0
    const max = typeof schema.maxItems === 'number' ? schema.maxItems : Number.POSITIVE_INFINITY
    const wanted = this.seed === undefined ? min : Math.max(min, 1)
    const length = Math.max(0, Math.min(wanted, max))
    return Array.from({ length }, (_, i) => this.sample(schema.items ?? {}, `${path}[${i}]`, depth + 1))
  }

  private string(schema: Record<string, unknown>, path: string): string {
    let text: string
    switch (schema.format) {
      case 'date-time':
        text = '2024-01-01T00:00:00Z'
        break
      case 'date':
        text = '2024-01-01'
        break
      case 'email':
        text = 'stub@example.com'
        break
      case 'uri':
      case 'url':
        text = 'https://example.com/stub'
        break
      case 'uuid':
        text = '00000000-0000-4000-8000-000000000000'
        break
      default: {
        const bytes = this.seed === undefined ? undefined : this.bytes(path)
        text = bytes === undefined ? 'stub' : `${word(bytes, 0)} ${word(bytes, 1)}`
      }
    }
    const min = typeof schema.minLength === 'number' ? schema.minLength : 0
    const max = typeof schema.maxLength === 'number' ? schema.maxLength : Number.POSITIVE_INFINITY
    while (text.length < min) text += ` ${text}`
    return text.slice(0, Math.max(min, Math.min(text.length, max)))
  }

  private number(schema: Record<string, unknown>, path: string, integer: boolean): number {
    const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined)
    const step = integer ? 1 : 0.5
    let low = num(schema.minimum) ?? (num(schema.exclusiveMinimum) ?? Number.NEGATIVE_INFINITY) + step
    let high = num(schema.maximum) ?? (num(schema.exclusiveMaximum) ?? Number.POSITIVE_INFINITY) - step
    if (integer) {
      low = Math.ceil(low)
      high = Math.floor(high)
    }
    const fallback = Math.min(Math.max(0, low), high)
    if (this.seed === undefined || !Number.isFinite(low) || !Number.isFinite(high)) {
      if (this.seed === undefined) return fallback
      const span = 10
      const from = Number.isFinite(low) ? low : Number.isFinite(high) ? high - span : 0
      return Math.min(from + ((this.bytes(path)[0] ?? 0) % (span + 1)), high)
    }
    const steps = integer ? high - low : Math.round((high - low) * 100)
    const offset = (this.bytes(path).readUInt32BE(0) % (steps + 1)) / (integer ? 1 : 100)
    return low + offset
  }
}
