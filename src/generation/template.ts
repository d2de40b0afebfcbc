/** A variable name: an identifier of at most 64 characters. */
const NAME = '[A-Za-z_][A-Za-z0-9_]{0,63}'

/** Whole-string match of a variable name, for request schemas. */
export const VARIABLE_NAME = new RegExp(`^${NAME}$`)

/** `{{name}}` or `{{ name }}`; names are identifiers, so a stray `{{` in prose is left alone. */
const PLACEHOLDER = new RegExp(`\\{\\{\\s*(${NAME})\\s*\\}\\}`, 'g')

/** The slot where retrieved passages go; every other placeholder is a caller-supplied variable. */
export const CONTEXT_PLACEHOLDER = 'context'

/** Variable names a template declares, in order of first appearance, without `context`. */
export function templateVariables(template: string): string[] {
  const names = new Set<string>()
  for (const match of template.matchAll(PLACEHOLDER)) {
    const name = match[1]!
    if (name !== CONTEXT_PLACEHOLDER) names.add(name)
  }
  return [...names]
}

export function hasContextSlot(template: string): boolean {
  for (const match of template.matchAll(PLACEHOLDER)) if (match[1] === CONTEXT_PLACEHOLDER) return true
  return false
}

/**
 * Fill every placeholder in one pass. Inserted values are never scanned again, so a variable whose
 * value is `{{context}}` (or any other placeholder) stays literal text: callers cannot inject template syntax.
 */
export function renderTemplate(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(PLACEHOLDER, (whole, name: string) =>
    Object.hasOwn(values, name) ? values[name]! : whole,
  )
}

export interface VariableProblems {
  missing: string[]
  unknown: string[]
}

/** What is wrong with the variables a caller sent for a template; both lists empty means fine. */
export function checkVariables(
  declared: readonly string[],
  given: Readonly<Record<string, unknown>>,
): VariableProblems {
  const givenNames = Object.keys(given)
  return {
    missing: declared.filter((name) => !Object.hasOwn(given, name)),
    unknown: givenNames.filter((name) => !declared.includes(name)),
  }
}
