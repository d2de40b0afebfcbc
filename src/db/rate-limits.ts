import type { Queryable } from './transaction.js'

/** A key's current one-minute window as the database holds it, after a claim or a token charge. */
export interface WindowState {
  keyId: string
  /** Start of the window on the database clock, epoch milliseconds. */
  windowStart: number
  /** Requests granted to all API instances in this window so far. */
  requests: number
  /** Model tokens charged by all API instances in this window so far. */
  tokens: number
  /** The database clock as the row was returned, epoch milliseconds (instances align windows to it). */
  dbNow: number
}

const WINDOW_COLUMNS = `key_id AS "keyId", requests, tokens,
  (extract(epoch FROM window_start) * 1000)::float8 AS "windowStart",
  (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS "dbNow"`

/**
 * Claim up to `block` requests of the key's current minute for this API instance, never taking the
 * window's total past `limit` (a block of 0 claims nothing and only reads the window). Returns what was
 * granted with the window as it stands afterwards.
 *
 * The upsert holds the row lock while it computes the grant from the row's current total, so claims
 * from any number of instances never grant more than `limit` in all. The grant is stored in
 * `last_claim` by the same statement (SET expressions see the row before the update), which is how the
 * caller learns it without a second round trip. The same statement deletes the key's earlier windows,
 * so the table keeps about one row per active key; SKIP LOCKED leaves a row another claim is deleting
 * to that claim. The commit is asynchronous (`synchronous_commit = off` for this statement alone):
 * every instance sees the claim at once, but a database crash can forget the last fraction of a second
 * of claims, which only matter for the current minute.
 */
export async function claimRequests(
  db: Queryable,
  request: { keyId: string; block: number; limit: number },
): Promise<WindowState & { granted: number }> {
  const { rows } = await db.query<WindowState & { granted: number }>(
    `WITH expired AS (
       DELETE FROM rate_limit_windows WHERE (key_id, window_start) IN (
         SELECT key_id, window_start FROM rate_limit_windows
         WHERE key_id = $1 AND window_start < date_trunc('minute', now())
         FOR UPDATE SKIP LOCKED)
     )
     INSERT INTO rate_limit_windows AS w (key_id, window_start, requests, last_claim)
     SELECT $1, date_trunc('minute', now()), least($2::int, $3::int), least($2::int, $3::int)
     FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
     ON CONFLICT (key_id, window_start) DO UPDATE
       SET requests = w.requests + least($2::int, greatest($3::int - w.requests, 0)),
           last_claim = least($2::int, greatest($3::int - w.requests, 0))
     RETURNING last_claim AS granted, ${WINDOW_COLUMNS}`,
    [request.keyId, request.block, request.limit],
  )
  return rows[0]!
}

/**
 * Add model tokens to several keys' current windows in one statement, returning each window after the
 * charge. Rows are taken in key order so two instances charging the same keys cannot deadlock.
 * Committed asynchronously, like claims.
 */
export async function chargeTokens(
  db: Queryable,
  charges: { keyId: string; tokens: number }[],
): Promise<WindowState[]> {
  const billable = charges.flatMap(({ keyId, tokens }) => {
    const whole = chargeableTokens(tokens)
    return whole === null ? [] : [{ keyId, tokens: whole }]
  })
  if (billable.length === 0) return []
  billable.sort((a, b) => (a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0))
  const { rows } = await db.query<WindowState>(
    `INSERT INTO rate_limit_windows AS w (key_id, window_start, tokens)
     SELECT c.key_id, date_trunc('minute', now()), c.tokens
     FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS c(key_id, tokens, n),
       (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
     ORDER BY c.n
     ON CONFLICT (key_id, window_start) DO UPDATE SET tokens = w.tokens + excluded.tokens
     RETURNING ${WINDOW_COLUMNS}`,
    [billable.map((charge) => charge.keyId), billable.map((charge) => charge.tokens)],
  )
  return rows
}

/**
 * Give back requests an instance claimed and did not use (it is shutting down), so other instances can
 * have them for the rest of the minute. A window that has since ended is left alone. One single-row
 * statement per key, so it can never deadlock with another instance's claims or charges.
 */
export async function releaseRequests(
  db: Queryable,
  releases: { keyId: string; windowStart: number; requests: number }[],
): Promise<void> {
  for (const release of releases) {
    await db.query(
      `UPDATE rate_limit_windows SET requests = greatest(requests - $3::int, 0)
       WHERE key_id = $1 AND window_start = to_timestamp($2::float8 / 1000)`,
      [release.keyId, release.windowStart, release.requests],
    )
  }
}

/** Whole tokens to charge, or null when there is nothing to charge (zero, negative or not a number). */
export function chargeableTokens(tokens: number): number | null {
  return Number.isFinite(tokens) && tokens > 0 ? Math.ceil(tokens) : null
}
