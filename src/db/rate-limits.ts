import type { Scope } from '../auth/api-keys.js'
import type { ApiKeyRow } from './api-keys.js'
import type { Queryable } from './transaction.js'

/** The counters of the current one-minute window of a key, after counting this request. */
export interface RateLimitWindow {
  requests: number
  tokens: number
  /** The key's own limits; null means the server default applies. */
  rpm: number | null
  tpm: number | null
  /** Whole seconds until this window closes and the counters start again from zero (at least 1). */
  resetSeconds: number
}

/**
 * Look up an API key and, only when it admits the request (stored hash equals `hash`, not revoked,
 * holds `scope`), count the request against the key's current minute: one statement, one round trip,
 * where looking up and counting separately took two. Requests that fail authentication count nothing,
 * so a wrong secret cannot spend a real key's limit. The caller still compares the returned hash in
 * constant time; the SQL equality only gates the counter (a SHA-256 of a 256-bit random secret leaks
 * nothing useful through timing).
 *
 * The upsert takes the row lock, so concurrent requests on any number of API instances each see a
 * distinct count. Windows are aligned to the database clock, not the instances' clocks. The same
 * statement deletes the key's previous windows, so the table holds about one row per active key;
 * SKIP LOCKED leaves a row another request is deleting to that request, so two requests racing at a
 * minute boundary never wait on each other (the sub-statements' lock order is not defined).
 *
 * The counter commits asynchronously (`synchronous_commit = off` for this statement alone): other
 * requests see it at once, on every instance, but the flush to disk is not awaited, so a database
 * crash can forget the last fraction of a second of counts. Every request writes here, so waiting
 * for the disk would add a flush to each request's latency for counts that only matter for a minute.
 */
export async function findApiKeyCountingRequest(
  db: Queryable,
  request: { id: string; hash: Buffer; scope: Scope },
): Promise<{ row: ApiKeyRow; window: RateLimitWindow | undefined } | undefined> {
  const { rows } = await db.query<
    ApiKeyRow & { requests: number | null; tokens: number | null; resetSeconds: number | null }
  >(
    `WITH k AS (
       SELECT api_keys.*, key_hash = $2::bytea AND revoked_at IS NULL AND $3::text = ANY (scopes) AS admitted
       FROM api_keys, (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
       WHERE id = $1
     ), expired AS (
       DELETE FROM rate_limit_windows WHERE (key_id, window_start) IN (
         SELECT w.key_id, w.window_start FROM rate_limit_windows w JOIN k ON k.admitted AND w.key_id = k.id
         WHERE w.window_start < date_trunc('minute', now())
         FOR UPDATE OF w SKIP LOCKED)
     ), hit AS (
       INSERT INTO rate_limit_windows AS w (key_id, window_start, requests)
       SELECT id, date_trunc('minute', now()), 1 FROM k WHERE admitted
       ON CONFLICT (key_id, window_start) DO UPDATE SET requests = w.requests + 1
       RETURNING requests, tokens, window_start
     )
     SELECT k.id, k.name, k.key_hash AS "keyHash", k.scopes, k.collections, k.created_at AS "createdAt",
       k.revoked_at AS "revokedAt", k.last_used_at AS "lastUsedAt", k.rate_limit_rpm AS "rateLimitRpm",
       k.rate_limit_tpm AS "rateLimitTpm", hit.requests, hit.tokens,
       greatest(1, ceil(extract(epoch FROM hit.window_start + interval '1 minute' - now())))::int
         AS "resetSeconds"
     FROM k LEFT JOIN hit ON true`,
    [request.id, request.hash, request.scope],
  )
  const found = rows[0]
  if (!found) return undefined
  const { requests, tokens, resetSeconds, ...row } = found
  const window =
    requests === null || tokens === null || resetSeconds === null
      ? undefined
      : { requests, tokens, rpm: row.rateLimitRpm, tpm: row.rateLimitTpm, resetSeconds }
  return { row, window }
}

/**
 * Charge model tokens to the key's current window. Called after each model call; the next request's
 * check sees them, so a key can overshoot its token limit by at most the calls already in flight.
 */
export async function recordTokens(db: Queryable, keyId: string, tokens: number): Promise<void> {
  const charge = chargeableTokens(tokens)
  if (charge === null) return
  await db.query(chargeTokensSql('$1', '$2'), [keyId, charge])
}

/** Whole tokens to charge, or null when there is nothing to charge (zero, negative or not a number). */
export function chargeableTokens(tokens: number): number | null {
  return Number.isFinite(tokens) && tokens > 0 ? Math.ceil(tokens) : null
}

/**
 * The token charge as SQL over two placeholders (key id, tokens); a null token count inserts nothing.
 * The generation log embeds it as a CTE so logging and charging stay one round trip.
 */
export function chargeTokensSql(keyParam: string, tokensParam: string): string {
  return `INSERT INTO rate_limit_windows AS w (key_id, window_start, tokens)
     SELECT ${keyParam}::text, date_trunc('minute', now()), ${tokensParam}::bigint
     WHERE ${tokensParam}::bigint IS NOT NULL
     ON CONFLICT (key_id, window_start) DO UPDATE SET tokens = w.tokens + excluded.tokens`
}
