import { z } from 'zod'
import { boundedRegexTest, REGEX_TIMEOUT_MS } from './bounded-regex.js'
import { type Check, checkName } from './checks.js'
import { rougeL } from './similarity.js'

/** What a check looks at: one output of one arm for one case. */
export interface CheckSubject {
  output: string
  reference: string | null
  /** Passage numbers the output cited that were never supplied. */
  invalidCitations: number[]
  /** Supplied passages the output cites. */
  citedPassages: number
  costUsd: number | null
  latencyMs: number
  /** Cosine similarity of output and reference with the collection's embedder (undefined: not computed). */
  cosine?: number
  /** The judge's rubric scores by check name (mean over its repetitions). */
  rubricScores?: Record<string, number>
}

export interface CheckResult {
  name: string
  type: Check['type']
  /** null: the check could not be decided (no reference, an unpriced model, no judge); not a failure. */
  pass: boolean | null
  score?: number
  detail?: string
}

const words = (text: string) => text.split(/\s+/).filter(Boolean).length
const schemas = new WeakMap<object, z.ZodType>()

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  const fenced = /^\s*```(?:json)?\s*\n([\s\S]*?)\n\s*```\s*$/.exec(text)
  try {
    return { ok: true, value: JSON.parse(fenced ? fenced[1]! : text) }
  } catch {
    return { ok: false }
  }
}

function jsonSchemaCheck(text: string, schema: Record<string, unknown>): { pass: boolean; detail?: string } {
  const parsed = parseJson(text)
  if (!parsed.ok) return { pass: false, detail: 'not valid JSON' }
  let validator = schemas.get(schema)
  if (!validator) {
    validator = z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0])
    schemas.set(schema, validator)
  }
  const result = validator.safeParse(parsed.value)
  if (result.success) return { pass: true }
  const issue = result.error.issues[0]!
  return { pass: false, detail: `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}` }
}

/** One check against one output. */
export function runCheck(check: Check, subject: CheckSubject): CheckResult {
  const { output } = subject
  const base = { name: checkName(check), type: check.type }
  const decided = (pass: boolean, extra: Omit<CheckResult, 'name' | 'type' | 'pass'> = {}): CheckResult => ({
    ...base,
    pass,
    ...extra,
  })
  switch (check.type) {
    case 'contains':
      return decided(output.includes(check.value))
    case 'not-contains':
      return decided(!output.includes(check.value))
    case 'icontains':
      return decided(output.toLowerCase().includes(check.value.toLowerCase()))
    case 'regex': {
      const pass = boundedRegexTest(new RegExp(check.pattern, check.flags ?? ''), output)
      return pass === undefined
        ? { ...base, pass: null, detail: `the pattern ran longer than ${REGEX_TIMEOUT_MS} ms on this output` }
        : decided(pass)
    }
    case 'equals':
      return decided(output.trim() === check.value.trim())
    case 'starts-with':
      return decided(output.trimStart().startsWith(check.value))
    case 'min-length': {
      const length = check.unit === 'words' ? words(output) : [...output].length
      return decided(length >= check.value, { score: length })
    }
    case 'max-length': {
      const length = check.unit === 'words' ? words(output) : [...output].length
      return decided(length <= check.value, { score: length })
    }
    case 'is-json':
      return decided(parseJson(output).ok)
    case 'json-schema':
      return { ...base, ...jsonSchemaCheck(output, check.schema) }
    case 'banned-phrases': {
      const lower = output.toLowerCase()
      const found = check.phrases.filter((phrase) => lower.includes(phrase.toLowerCase()))
      return decided(found.length === 0, found.length > 0 ? { detail: `found: ${found.join(', ')}` } : {})
    }
    case 'citations-valid':
      return decided(
        subject.invalidCitations.length === 0,
        subject.invalidCitations.length > 0
          ? { detail: `no passage ${subject.invalidCitations.map((n) => `[${n}]`).join(', ')}` }
          : {},
      )
    case 'min-citations':
      return decided(subject.citedPassages >= check.value, { score: subject.citedPassages })
    case 'max-cost':
      if (subject.costUsd === null) return { ...base, pass: null, detail: 'the model has no price' }
      return decided(subject.costUsd <= check.usd, { score: subject.costUsd })
    case 'max-latency':
      return decided(subject.latencyMs <= check.ms, { score: subject.latencyMs })
    case 'similarity': {
      if (subject.reference === null) return { ...base, pass: null, detail: 'the case has no reference' }
      const score = check.metric === 'rouge-l' ? rougeL(output, subject.reference) : subject.cosine
      if (score === undefined) return { ...base, pass: null, detail: 'the collection has no embedder' }
      return decided(score >= check.min, { score: Math.round(score * 10_000) / 10_000 })
    }
    case 'rubric': {
      const score = subject.rubricScores?.[base.name]
      if (score === undefined) return { ...base, pass: null, detail: 'the run has no judge' }
      return decided(score >= check.min, { score })
    }
  }
}
