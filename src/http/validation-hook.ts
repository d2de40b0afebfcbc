import type { Hook } from '@hono/zod-openapi'
import { AppError, type FieldIssue } from '../errors.js'
import type { AppEnv } from './context.js'

/**
 * zod-openapi calls this with each validation result: a failure becomes a 400 listing every field, and
 * a body whose strings PostgreSQL could not store (NUL) or that are not well-formed Unicode (a lone
 * surrogate from a `\ud800` escape, silently stored as U+FFFD) is refused here, before any work is done.
 */
// biome-ignore lint/suspicious/noExplicitAny: the hook is shared by routes of every input type
export const validationHook: Hook<any, AppEnv, any, any> = (result) => {
  const where = result.target === 'json' || result.target === 'form' ? 'body' : result.target
  if (!result.success) {
    const errors = result.error.issues.flatMap((issue): FieldIssue[] => {
      const at = issue.path.map(String)
      // One entry per unknown field, named by its own path, so clients (and OpenAI's `error.param`) see which.
      if (issue.code === 'unrecognized_keys')
        return issue.keys.map((key) => ({ path: [...at, key].join('.'), message: 'unknown field' }))
      return [{ path: at.join('.') || '(root)', message: issue.message }]
    })
    throw new AppError('validation_failed', `The request ${where} is invalid.`, { errors })
  }
  const errors = unstorableStrings(result.data, '')
  if (errors.length > 0)
    throw new AppError('validation_failed', `The request ${where} is invalid.`, { errors })
}

const MAX_REPORTED = 20
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

function unstorableStrings(value: unknown, path: string, out: FieldIssue[] = []): FieldIssue[] {
  if (out.length >= MAX_REPORTED) return out
  if (typeof value === 'string') {
    if (value.includes('\u0000'))
      out.push({ path: path || '(root)', message: 'must not contain NUL (\\u0000)' })
    else if (LONE_SURROGATE.test(value))
      out.push({ path: path || '(root)', message: 'must be well-formed Unicode' })
  } else if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) unstorableStrings(item, path ? `${path}.${i}` : String(i), out)
  } else if (typeof value === 'object' && value !== null && !(value instanceof Blob)) {
    for (const [key, item] of Object.entries(value)) {
      const at = path ? `${path}.${key}` : key
      unstorableStrings(key, `${at} (key)`, out)
      unstorableStrings(item, at, out)
    }
  }
  return out
}
