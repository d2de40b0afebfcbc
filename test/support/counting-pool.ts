import type { Queryable } from '../../src/db/transaction.js'

/**
 * A Queryable over `pool` that counts the statements sent through it, and can fail the first
 * `failures` of them with `error` (an unreachable database, by default).
 */
export function countingPool(
  pool: Queryable,
  failures = 0,
  error: () => Error = () => new Error('Connection terminated unexpectedly'),
): { pool: Queryable; seen: { statements: number } } {
  const seen = { statements: 0 }
  let left = failures
  const counting: Queryable = {
    query: ((...args: unknown[]) => {
      seen.statements += 1
      if (left-- > 0) return Promise.reject(error())
      return (pool.query as (...a: unknown[]) => unknown).apply(pool, args)
    }) as Queryable['query'],
  }
  return { pool: counting, seen }
}
