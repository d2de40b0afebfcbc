import type pg from 'pg'
import { assertCollectionAllowed, type CollectionAllowlist } from '../collections/access.js'
import {
  type ApiKeyRow,
  countActiveApiKeys,
  insertApiKey,
  listApiKeys,
  lockKeyBootstrap,
  revokeApiKey,
} from '../db/api-keys.js'
import { type Queryable, withTransaction } from '../db/transaction.js'
import { AppError } from '../errors.js'
import { type ApiKey, generateApiKey, type Scope } from './api-keys.js'

export interface CreateKeyInput {
  name: string
  scopes: Scope[]
  collections?: string[]
  /** Requests per minute for this key; omitted or null: the server default (RATE_LIMIT_RPM); 0: unlimited. */
  rateLimitRpm?: number | null
  /** Model tokens per minute for this key; omitted or null: RATE_LIMIT_TPM; 0: unlimited. */
  rateLimitTpm?: number | null
}

export interface KeySummary {
  id: string
  name: string
  scopes: Scope[]
  collections: string[] | null
  createdAt: string
  revokedAt: string | null
  lastUsedAt: string | null
  rateLimitRpm: number | null
  rateLimitTpm: number | null
}

/** The only moment the secret exists in clear: it is returned once and never stored. */
export async function createKey(db: Queryable, input: CreateKeyInput): Promise<KeySummary & { key: string }> {
  const generated = generateApiKey()
  const row = await insertApiKey(db, {
    id: generated.id,
    name: input.name,
    hash: generated.hash,
    scopes: [...new Set(input.scopes)],
    collections: input.collections ? [...new Set(input.collections)] : null,
    rateLimitRpm: input.rateLimitRpm,
    rateLimitTpm: input.rateLimitTpm,
  })
  return { ...summarize(row), key: generated.key }
}

/**
 * A key limited to some collections must not mint a key that reaches further: whatever it creates is
 * limited to a subset of its own collections (an unlimited key would escape the allowlist).
 */
export function ensureCanGrant(creator: ApiKey, collections: string[] | undefined): void {
  if (creator.collections === undefined) return
  if (!collections) {
    throw new AppError(
      'forbidden',
      'This API key is limited to some collections; keys it creates must be limited to those collections too.',
    )
  }
  for (const name of collections) assertCollectionAllowed(creator, name)
}

/**
 * The keys `viewer` may manage: all of them for an unlimited key; for a key limited to some collections,
 * only keys limited to (some of) those. Any other key, the unlimited admin keys included, is invisible
 * to it: not listed, and 404 to revoke, as if it did not exist.
 */
export async function listKeys(db: Queryable, viewer: CollectionAllowlist = {}): Promise<KeySummary[]> {
  return (await listApiKeys(db, viewer.collections)).map(summarize)
}

export async function revokeKey(db: Queryable, id: string, viewer: CollectionAllowlist = {}): Promise<void> {
  if (!(await revokeApiKey(db, id, viewer.collections)))
    throw new AppError('not_found', `No API key with id ${id}.`)
}

/**
 * On a database with no usable key, make the first admin key so a new install can be driven at all;
 * returns its secret. Processes starting together against one database make one key between them.
 */
export async function ensureAdminKey(db: pg.Pool): Promise<string | undefined> {
  return withTransaction(db, async (client) => {
    await lockKeyBootstrap(client)
    if ((await countActiveApiKeys(client)) > 0) return undefined
    const created = await createKey(client, { name: 'bootstrap admin', scopes: ['admin', 'generate'] })
    return created.key
  })
}

function summarize(row: Omit<ApiKeyRow, 'keyHash'>): KeySummary {
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes,
    collections: row.collections,
    createdAt: row.createdAt.toISOString(),
    revokedAt: row.revokedAt?.toISOString() ?? null,
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    rateLimitRpm: row.rateLimitRpm,
    rateLimitTpm: row.rateLimitTpm,
  }
}
