import type { Hook } from '@hono/zod-openapi'
import type { AppEnv } from './context.js'
import { AppError } from './errors.js'

/** zod-openapi calls this with each failed validation: turn it into a 400 listing every field. */
// biome-ignore lint/suspicious/noExplicitAny: the hook is shared by routes of every input type
export const validationHook: Hook<any, AppEnv, any, any> = (result) => {
  if (result.success) return
  const errors = result.error.issues.map((issue) => ({
    path: issue.path.map(String).join('.') || '(root)',
    message: issue.message,
  }))
  const where = result.target === 'json' || result.target === 'form' ? 'body' : result.target
  throw new AppError('validation_failed', `The request ${where} is invalid.`, { errors })
}
