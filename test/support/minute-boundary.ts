import type { Queryable } from '../../src/db/transaction.js'

/**
 * Rate limits use fixed minutes of the database clock, so a test that counts requests against one
 * minute fails if the minute turns while it runs. Call this first: it waits for the next minute when
 * fewer than `margin` seconds of the current one are left.
 */
export async function clearOfMinuteBoundary(db: Queryable, marginSeconds = 8): Promise<void> {
  const left = await secondsLeftInDatabaseMinute(db)
  if (left < marginSeconds) await new Promise((resolve) => setTimeout(resolve, left * 1000 + 250))
}

/** Seconds (with their fraction) left in the current minute of the database clock. */
export async function secondsLeftInDatabaseMinute(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ left: number }>(
    `SELECT extract(epoch FROM date_trunc('minute', now()) + interval '1 minute' - now())::float8 AS left`,
  )
  return rows[0]!.left
}
