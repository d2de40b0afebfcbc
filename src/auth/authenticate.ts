import { type ApiKeyRow, findApiKey, touchApiKey } from '../db/api-keys.js'
import { findApiKeyCountingRequest, type RateLimitWindow } from '../db/rate-limits.js'
import type { Queryable } from '../db/transaction.js'
import { AppError } from '../http/errors.js'
import { type ApiKey, apiKeyHashMatches, hashApiKey, parseApiKeyId, type Scope } from './api-keys.js'

const TOUCH_INTERVAL_MS = 60_000
const BEARER = /^Bearer\s+(\S+)\s*$/i

export interface Authenticated {
  key: ApiKey
  /** The key's rate-limit window after counting this request; absent when nothing was counted. */
  window?: RateLimitWindow
}

/**
 * Resolve an Authorization header to a live key with the scope asked for, or throw 401/403. With
 * `countRequest`, the same statement that finds the key also counts the request against its rate
 * limits, but only if the key admits it: failed authentication counts nothing.
 */
export async function authenticate(
  db: Queryable,
  authorization: string | undefined,
  scope: Scope,
  options: { countRequest?: boolean } = {},
): Promise<Authenticated> {
  if (!authorization) throw new AppError('unauthorized', 'Send an API key as "Authorization: Bearer <key>".')
  const presented = BEARER.exec(authorization)?.[1]
  const id = presented === undefined ? undefined : parseApiKeyId(presented)
  if (presented === undefined || id === undefined) {
    throw new AppError('unauthorized', 'The Authorization header does not hold an Onbrand API key.')
  }
  const presentedHash = hashApiKey(presented)
  let row: ApiKeyRow | undefined
  let window: RateLimitWindow | undefined
  if (options.countRequest) {
    const found = await findApiKeyCountingRequest(db, { id, hash: presentedHash, scope })
    row = found?.row
    window = found?.window
  } else {
    row = await findApiKey(db, id)
  }
  // Same answer for unknown, wrong and revoked keys: the response must not reveal which ids exist.
  if (!row || !apiKeyHashMatches(presentedHash, row.keyHash) || row.revokedAt !== null) {
    throw new AppError('unauthorized', 'The API key is unknown or revoked.')
  }
  if (!row.scopes.includes(scope)) {
    throw new AppError('forbidden', `This API key lacks the "${scope}" scope.`)
  }
  // The UPDATE is throttled to once a minute anyway; skipping it here saves a round trip per request.
  if (row.lastUsedAt === null || Date.now() - row.lastUsedAt.getTime() >= TOUCH_INTERVAL_MS) {
    await touchApiKey(db, row.id)
  }
  const key: ApiKey = {
    id: row.id,
    name: row.name,
    scopes: row.scopes,
    ...(row.collections ? { collections: row.collections } : {}),
  }
  return window ? { key, window } : { key }
}
