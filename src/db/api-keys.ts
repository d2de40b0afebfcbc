import type pg from 'pg'
import type { Scope } from '../auth/api-keys.js'
import type { Queryable } from './transaction.js'

export interface ApiKeyRow {
  id: string
  name: string
  keyHash: Buffer
  scopes: Scope[]
  collections: string[] | null
  createdAt: Date
  revokedAt: Date | null
  lastUsedAt: Date | null
  /** Own limits per minute; null means the server default, 0 unlimited. */
  rateLimitRpm: number | null
  rateLimitTpm: number | null
}

// Serialises the first-key check across processes starting together against one database.
const BOOTSTRAP_LOCK_KEY = 7_201_555_002

const COLUMNS = `id, name, key_hash AS "keyHash", scopes, collections, created_at AS "createdAt",
  revoked_at AS "revokedAt", last_used_at AS "lastUsedAt", rate_limit_rpm AS "rateLimitRpm",
  rate_limit_tpm AS "rateLimitTpm"`

export async function insertApiKey(
  db: Queryable,
  key: {
    id: string
    name: string
    hash: Buffer
    scopes: Scope[]
    collections: string[] | null
    rateLimitRpm?: number | null
    rateLimitTpm?: number | null
  },
): Promise<ApiKeyRow> {
  const { rows } = await db.query<ApiKeyRow>(
    `INSERT INTO api_keys (id, name, key_hash, scopes, collections, rate_limit_rpm, rate_limit_tpm)
     VALUES ($1, $2, $3, $4::text[], $5::text[], $6::int, $7::int) RETURNING ${COLUMNS}`,
    [
      key.id,
      key.name,
      key.hash,
      key.scopes,
      key.collections,
      key.rateLimitRpm ?? null,
      key.rateLimitTpm ?? null,
    ],
  )
  return rows[0]!
}

export async function findApiKey(db: Queryable, id: string): Promise<ApiKeyRow | undefined> {
  const { rows } = await db.query<ApiKeyRow>(`SELECT ${COLUMNS} FROM api_keys WHERE id = $1`, [id])
  return rows[0]
}

/**
 * Keys whose reach lies inside `within` (a collection allowlist; absent: every key): keys limited to a
 * subset of those collections. An unlimited key reaches every collection, so it is never inside one.
 */
const WITHIN = `($1::text[] IS NULL OR (collections IS NOT NULL AND collections <@ $1::text[]))`

export async function listApiKeys(db: Queryable, within?: readonly string[]): Promise<ApiKeyRow[]> {
  const { rows } = await db.query<ApiKeyRow>(
    `SELECT ${COLUMNS} FROM api_keys WHERE ${WITHIN} ORDER BY created_at, id`,
    [within ?? null],
  )
  return rows
}

export async function countActiveApiKeys(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ count: number }>(
    'SELECT count(*)::int AS count FROM api_keys WHERE revoked_at IS NULL',
  )
  return rows[0]?.count ?? 0
}

/**
 * Returns false when no such key exists (or none inside `within`, see listApiKeys); revoking twice keeps
 * the first revocation time.
 */
export async function revokeApiKey(db: Queryable, id: string, within?: readonly string[]): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE ${WITHIN} AND id = $2`,
    [within ?? null, id],
  )
  return (rowCount ?? 0) > 0
}

/** At most one write a minute per key, so busy keys don't turn every request into an UPDATE. */
export async function touchApiKey(db: Queryable, id: string): Promise<void> {
  await db.query(
    `UPDATE api_keys SET last_used_at = now()
     WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`,
    [id],
  )
}

/** Hold, until the transaction `client` is in ends, the lock that makes the first-key check one at a time. */
export async function lockKeyBootstrap(client: pg.PoolClient): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [BOOTSTRAP_LOCK_KEY])
}
