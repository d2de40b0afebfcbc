import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { PGlite } from '@electric-sql/pglite'
import { vector } from '@electric-sql/pglite-pgvector'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { migrate } from '../../src/db/migrate.js'
import { type Database, embeddedDatabase } from '../../src/db/pool.js'
import type { Queryable } from '../../src/db/transaction.js'

export type TargetKind = 'postgres' | 'embedded'

/**
 * One database an ingest benchmark runs against, fresh and migrated: a new database on the PostgreSQL
 * server, or a new on-disk PGlite (as `npm start` uses) in a temporary folder.
 */
export interface BenchTarget {
  kind: TargetKind
  db: Database
  /** "PostgreSQL 15.20, pgvector 0.8.0" */
  label: string
  /** What bench/ingest-baseline.ts needs to open a database of the same kind. */
  baselineSpec: string
  /** Binary COPY of a ready stream into `table (columns)`: pg-copy-streams, or PGlite's /dev/blob. */
  copyBinary(table: string, columns: string[], data: Buffer): Promise<void>
  /**
   * Binary COPY `sql` (… FROM STDIN WITH (FORMAT binary)) on a client inside its transaction: pg-copy-streams
   * on PostgreSQL; on PGlite, whose node-postgres adapter has no COPY, the same session by /dev/blob.
   */
  copyWithin(client: Queryable, sql: string, data: Buffer): Promise<void>
  /** CPU seconds the server's backends of this database have used (PostgreSQL only; from /proc). */
  backendCpuSeconds(): Promise<number | undefined>
  close(): Promise<void>
}

export async function openBenchTarget(
  kind: TargetKind,
  serverUrl: string,
  poolSize = 10,
): Promise<BenchTarget> {
  return kind === 'postgres' ? openPostgresTarget(serverUrl, poolSize) : openEmbeddedTarget()
}

async function openPostgresTarget(serverUrl: string, poolSize: number): Promise<BenchTarget> {
  const name = `onbrand_bench_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: serverUrl })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  const url = Object.assign(new URL(serverUrl), { pathname: `/${name}` }).toString()
  // Connections stay open for the whole run, so their server processes' CPU can be read at the end.
  const pool = new pg.Pool({ connectionString: url, max: poolSize, idleTimeoutMillis: 0 })
  pool.on('error', () => {})
  const db: Database = { pool, kind: 'postgres', close: () => pool.end() }
  await migrate(pool)
  const label = await versionLabel(pool)
  return {
    kind: 'postgres',
    db,
    label,
    baselineSpec: url,
    async copyBinary(table, columns, data) {
      const client = await pool.connect()
      try {
        const stream = client.query(
          copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN WITH (FORMAT binary)`),
        )
        await pipeline(Readable.from([data]), stream)
      } finally {
        client.release()
      }
    },
    async copyWithin(client, sql, data) {
      const stream = (client as pg.PoolClient).query(copyFrom(sql))
      await pipeline(Readable.from([data]), stream)
    },
    async backendCpuSeconds() {
      const { rows } = await admin.query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE datname = $1',
        [name],
      )
      return rows.reduce((sum, row) => sum + processCpuSeconds(row.pid), 0)
    },
    async close() {
      await pool.end()
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await admin.end()
    },
  }
}

async function openEmbeddedTarget(): Promise<BenchTarget> {
  const dir = mkdtempSync(join(tmpdir(), 'onbrand-bench-'))
  const pglite = await PGlite.create({ dataDir: dir, extensions: { vector } })
  const db = embeddedDatabase(pglite)
  await migrate(db.pool)
  const label = await versionLabel(db.pool)
  return {
    kind: 'embedded',
    db,
    label: `PGlite ${label}`,
    baselineSpec: 'embedded',
    async copyBinary(table, columns, data) {
      // PGlite is one session: this runs between the pool's statements, not beside them.
      await pglite.query(`COPY ${table} (${columns.join(', ')}) FROM '/dev/blob' WITH (FORMAT binary)`, [], {
        blob: new Blob([data]),
      })
    },
    async copyWithin(_client, sql, data) {
      // PGlite is one session, so this runs inside the transaction the pool's client has open.
      await pglite.query(sql.replace('FROM STDIN', "FROM '/dev/blob'"), [], { blob: new Blob([data]) })
    },
    backendCpuSeconds: async () => undefined,
    async close() {
      await db.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

async function versionLabel(pool: pg.Pool): Promise<string> {
  const { rows } = await pool.query<{ pg: string; vector: string }>(
    `SELECT split_part(split_part(version(), ' on ', 1), ' (', 1) AS pg,
       (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS vector`,
  )
  return `${rows[0]!.pg}, pgvector ${rows[0]!.vector}`
}

const TICKS_PER_SECOND = 100

/** utime + stime of a process, from /proc/<pid>/stat (fields 14 and 15, after the parenthesised name). */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND
  } catch {
    return 0
  }
}
