import vm from 'node:vm'

/** How long one regex check may run on one output before it is left undecided. */
export const REGEX_TIMEOUT_MS = 100

// One empty context, reused: V8 interrupts a script at its timeout, backtracking regexes included.
const context = vm.createContext(Object.create(null) as object)
const script = new vm.Script('pattern.test(text)')

/**
 * Test a user-supplied pattern against an output within a time bound, so a pattern that backtracks
 * catastrophically (`(a+)+$` on a long run of a's) cannot freeze the process that runs evaluations.
 * Returns undefined when the bound was hit.
 */
export function boundedRegexTest(
  pattern: RegExp,
  text: string,
  timeoutMs = REGEX_TIMEOUT_MS,
): boolean | undefined {
  Object.assign(context, { pattern, text })
  try {
    return script.runInContext(context, { timeout: timeoutMs }) as boolean
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') return undefined
    throw error
  } finally {
    Object.assign(context, { pattern: undefined, text: undefined })
  }
}
