import { findApiKey, touchApiKey } from '../db/api-keys.js'
import type { Queryable } from '../db/transaction.js'
import { AppError } from '../http/errors.js'
import { type ApiKey, apiKeyMatches, parseApiKeyId, type Scope } from './api-keys.js'

const BEARER = /^Bearer\s+(\S+)\s*$/i

/** Resolve an Authorization header to a live key with the scope asked for, or throw 401/403. */
export async function authenticate(
  db: Queryable,
  authorization: string | undefined,
  scope: Scope,
): Promise<ApiKey> {
  if (!authorization) throw new AppError('unauthorized', 'Send an API key as "Authorization: Bearer <key>".')
  const presented = BEARER.exec(authorization)?.[1]
  const id = presented === undefined ? undefined : parseApiKeyId(presented)
  if (presented === undefined || id === undefined) {
    throw new AppError('unauthorized', 'The Authorization header does not hold an Onbrand API key.')
  }
  const row = await findApiKey(db, id)
  // Same answer for unknown, wrong and revoked keys: the response must not reveal which ids exist.
  if (!row || !apiKeyMatches(presented, row.keyHash) || row.revokedAt !== null) {
    throw new AppError('unauthorized', 'The API key is unknown or revoked.')
  }
  if (!row.scopes.includes(scope)) {
    throw new AppError('forbidden', `This API key lacks the "${scope}" scope.`)
  }
  await touchApiKey(db, row.id)
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes,
    ...(row.collections ? { collections: row.collections } : {}),
  }
}
