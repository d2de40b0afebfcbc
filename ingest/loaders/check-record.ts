/**
 * Why a product record cannot be stored, or undefined. PostgreSQL refuses a NUL character in text and
 * jsonb, and a lone UTF-16 surrogate in jsonb; its jsonb parser recurses per nesting level. A record
 * that would be refused is a per-row error here, so one bad row never fails the group it lands in.
 */
export function recordProblem(record: Record<string, unknown>): string | undefined {
  // Iterative: a record nested 10,000 levels deep must not exhaust the stack of this check either.
  const stack: { value: unknown; path: string; depth: number }[] = [{ value: record, path: '', depth: 0 }]
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop()!
    if (typeof value === 'string') {
      const problem = stringProblem(value)
      if (problem) return `the field ${show(path)} ${problem}`
    } else if (typeof value === 'number') {
      if (!Number.isFinite(value)) return `the field ${show(path)} holds a number too large to store`
    } else if (typeof value === 'object' && value !== null) {
      if (depth >= MAX_DEPTH) {
        return `the record is nested deeper than ${MAX_DEPTH} levels (at ${show(path)})`
      }
      const entries = Array.isArray(value)
        ? value.map((v, i) => [String(i), v] as const)
        : Object.entries(value)
      for (const [key, child] of entries) {
        const problem = stringProblem(key)
        if (problem) return `a field name ${problem}`
        stack.push({ value: child, path: path === '' ? key : `${path}.${key}`, depth: depth + 1 })
      }
    }
  }
  return undefined
}

// Deeper than any catalog export needs, far below where PostgreSQL's jsonb parser gives up.
export const MAX_DEPTH = 32

// With the u flag a well-formed surrogate pair is one code point, so this matches only lone halves.
const LONE_SURROGATE = /\p{Cs}/u

function stringProblem(value: string): string | undefined {
  if (value.includes('\u0000')) return 'contains a NUL character (\\u0000), which cannot be stored'
  if (LONE_SURROGATE.test(value)) {
    return 'contains a lone UTF-16 surrogate (a broken \\uD800-style escape), which is not text'
  }
  return undefined
}

function show(path: string): string {
  const shown = path.length > 80 ? `${path.slice(0, 77)}…` : path
  return `"${shown}"`
}
