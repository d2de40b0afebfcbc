import type { Queryable } from '../../src/db/transaction.js'

/**
 * Every application table with the columns a request may change as a side effect of being made at
 * all, left out: chunks.tsv is derived from the text, api_keys.last_used_at moves with every
 * authenticated call, and rate_limit_windows counts requests (refused ones too), so it is not listed.
 */
const TABLES: { table: string; orderBy: string; omit: string[] }[] = [
  { table: 'collections', orderBy: 'id', omit: [] },
  { table: 'documents', orderBy: 'id', omit: [] },
  { table: 'chunks', orderBy: 'id', omit: ['tsv'] },
  { table: 'api_keys', orderBy: 'id', omit: ['last_used_at'] },
  { table: 'tasks', orderBy: 'id', omit: [] },
  { table: 'task_versions', orderBy: 'id', omit: [] },
  { table: 'generations', orderBy: 'id', omit: [] },
  { table: 'feedback', orderBy: 'id', omit: [] },
  { table: 'ingest_jobs', orderBy: 'id', omit: [] },
  { table: 'ingest_job_files', orderBy: 'job_id, ordinal', omit: [] },
]

export type DatabaseSnapshot = Record<string, unknown[]>

/**
 * The row contents of every application table, each row as JSON (vectors, bytea and timestamps as
 * their text forms), in primary-key order: two snapshots are equal exactly when nothing was stored,
 * changed or deleted in between.
 */
export async function snapshotDatabase(db: Queryable): Promise<DatabaseSnapshot> {
  const snapshot: DatabaseSnapshot = {}
  for (const { table, orderBy, omit } of TABLES) {
    const { rows } = await db.query<{ row: unknown }>(
      `SELECT to_jsonb(t) - $1::text[] AS row FROM ${table} t ORDER BY ${orderBy}`,
      [omit],
    )
    snapshot[table] = rows.map((r) => r.row)
  }
  return snapshot
}
