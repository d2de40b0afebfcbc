import { type ApiKeyRow, findApiKey, touchApiKey } from '../db/api-keys.js'
import type { Queryable } from '../db/transaction.js'
import { AppError } from '../errors.js'
import { type ApiKey, apiKeyHashMatches, hashApiKey, parseApiKeyId, type Scope } from './api-keys.js'

const TOUCH_INTERVAL_MS = 60_000
const BEARER = /^Bearer\s+(\S+)\s*$/i

/**
 * API key rows by id, kept for `ttlMs` so that authentication costs no database statement per request.
 * Only keys found in the database are kept (an unknown id is asked about each time), and what is kept is
 * the stored row: the presented secret is still hashed and compared with it on every request. A key
 * revoked through this process is forgotten at once; one revoked elsewhere (the CLI, another instance)
 * stops working within `ttlMs`. A ttl of 0 asks the database every time.
 */
export class ApiKeyCache {
  private readonly rows = new Map<string, { row: ApiKeyRow; until: number }>()
  /** Bumped by forget(): a lookup that started before a revocation must not cache what it read. */
  private epoch = 0

  constructor(
    private readonly db: Queryable,
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  async find(id: string): Promise<ApiKeyRow | undefined> {
    const cached = this.rows.get(id)
    if (cached && cached.until > Date.now()) return cached.row
    const epoch = this.epoch
    const row = await findApiKey(this.db, id)
    if (row && this.ttlMs > 0 && epoch === this.epoch) {
      if (this.rows.size >= this.maxEntries) this.rows.delete(this.rows.keys().next().value!)
      this.rows.set(id, { row, until: Date.now() + this.ttlMs })
    } else {
      this.rows.delete(id)
    }
    return row
  }

  /** Record a last_used_at update in the kept row, so it is not written again within the minute. */
  touched(id: string, at: Date): void {
    const cached = this.rows.get(id)
    if (cached) cached.row = { ...cached.row, lastUsedAt: at }
  }

  forget(id: string): void {
    this.epoch += 1
    this.rows.delete(id)
  }
}

/** The token of an `Authorization: Bearer <token>` header, if it has that shape. */
export function bearerToken(authorization: string | undefined): string | undefined {
  return authorization === undefined ? undefined : BEARER.exec(authorization)?.[1]
}

/**
 * Resolve an Authorization header to a live key holding the scope asked for (or one of the scopes, when
 * given several), or throw 401/403. Returns the stored row as well, for its rate limits, and `scope`: the
 * first of the scopes asked for that the key holds.
 */
export async function authenticate(
  keys: ApiKeyCache,
  db: Queryable,
  authorization: string | undefined,
  scopes: Scope | readonly Scope[],
): Promise<{ key: ApiKey; row: ApiKeyRow; scope: Scope }> {
  const wanted: readonly Scope[] = typeof scopes === 'string' ? [scopes] : scopes
  if (!authorization) throw new AppError('unauthorized', 'Send an API key as "Authorization: Bearer <key>".')
  const presented = bearerToken(authorization)
  const id = presented === undefined ? undefined : parseApiKeyId(presented)
  if (presented === undefined || id === undefined) {
    throw new AppError('unauthorized', 'The Authorization header does not hold an Onbrand API key.')
  }
  const row = await keys.find(id)
  // Same answer for unknown, wrong and revoked keys: the response must not reveal which ids exist.
  if (!row || !apiKeyHashMatches(hashApiKey(presented), row.keyHash) || row.revokedAt !== null) {
    throw new AppError('unauthorized', 'The API key is unknown or revoked.')
  }
  const scope = wanted.find((s) => row.scopes.includes(s))
  if (scope === undefined) {
    const names = wanted.map((s) => `"${s}"`).join(' or ')
    throw new AppError('forbidden', `This API key lacks the ${names} scope.`)
  }
  // The UPDATE is throttled to once a minute per key.
  if (row.lastUsedAt === null || Date.now() - row.lastUsedAt.getTime() >= TOUCH_INTERVAL_MS) {
    keys.touched(row.id, new Date())
    await touchApiKey(db, row.id)
  }
  const key: ApiKey = {
    id: row.id,
    name: row.name,
    scopes: row.scopes,
    ...(row.collections ? { collections: row.collections } : {}),
  }
  return { key, row, scope }
}
