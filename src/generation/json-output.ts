import { z } from 'zod'

export type JsonSchema = Record<string, unknown>

export type JsonCheck = { ok: true; value: unknown } | { ok: false; error: string }

/** Compile a task's JSON Schema; throws with a readable message when the schema itself is unusable. */
export function compileJsonSchema(schema: JsonSchema): z.ZodType {
  if (schema.type !== 'object') throw new Error('the schema root must have "type": "object"')
  return z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0])
}

const compiled = new WeakMap<JsonSchema, z.ZodType>()

/** Parse model output as JSON and validate it; the error text is what the retry shows the model. */
export function checkJsonOutput(text: string, schema: JsonSchema): JsonCheck {
  let validator = compiled.get(schema)
  if (!validator) {
    validator = compileJsonSchema(schema)
    compiled.set(schema, validator)
  }
  let value: unknown
  try {
    value = JSON.parse(stripFence(text))
  } catch {
    return { ok: false, error: 'The reply is not valid JSON.' }
  }
  const result = validator.safeParse(value)
  if (result.success) return { ok: true, value }
  const issues = result.error.issues
    .slice(0, 10)
    .map((issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`)
  return { ok: false, error: `The reply does not match the JSON Schema: ${issues.join('; ')}` }
}

/** Models without structured output often wrap JSON in a Markdown fence; accept that much. */
function stripFence(text: string): string {
  const fenced = /^\s*```(?:json)?\s*\n([\s\S]*?)\n\s*```\s*$/.exec(text)
  return fenced ? fenced[1]! : text
}
