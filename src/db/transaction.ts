import { createHash } from 'node:crypto'
import type pg from 'pg'
import { isDatabaseUnavailable } from './pg-errors.js'

/** Anything that can run a query: the pool, or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient

/**
 * A statement as pg sends it: `prepared`, under a name derived from its text, so each connection parses
 * it once (and plans it once, unless PostgreSQL finds its generic plan costlier than custom ones): 0.7–0.9
 * ms a hybrid search at 100k chunks for the in-process BM25 index's statements (BENCHMARKS.md). The name
 * changes whenever the text does.
 */
export function statement(
  text: string,
  values: unknown[],
  prepared: boolean,
): { text: string; values: unknown[]; name?: string } {
  if (!prepared) return { text, values }
  return { name: `onbrand_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`, text, values }
}

/**
 * Check a client out of the pool for `work`, then give it back. The pool listens for a client's
 * 'error' only while the client is idle in it; a connection lost while the client is checked out (a
 * server restart, `pg_terminate_backend`, a failover) would be an unhandled 'error' event, which ends
 * the process. Here it is caught instead: the next query on the client fails (the caller sees a
 * "database unavailable" error), and the client goes back with the error so the pool discards it.
 * Every `pool.connect()` goes through here.
 */
export async function withClient<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  let lost: Error | undefined
  const onError = (error: Error) => {
    lost ??= error
  }
  client.on('error', onError)
  try {
    return await work(client)
  } catch (error) {
    // The server ended the session (its FATAL reply reaches the running query before the socket closes).
    if (isDatabaseUnavailable(error)) lost ??= error as Error
    throw error
  } finally {
    client.off('error', onError)
    client.release(lost)
  }
}

/**
 * Run `work` in one transaction. Passing a client that is already inside a transaction reuses it,
 * so a function can be called on its own or as part of a larger operation.
 */
export async function withTransaction<T>(
  db: pg.Pool | pg.PoolClient,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  if (!isPool(db)) return work(db)
  return withClient(db, async (client) => {
    await client.query('BEGIN')
    try {
      const result = await work(client)
      await client.query('COMMIT')
      return result
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {})
      throw error
    }
  })
}

function isPool(db: pg.Pool | pg.PoolClient): db is pg.Pool {
  return 'totalCount' in db
}
