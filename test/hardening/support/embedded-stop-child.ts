/**
 * Runs in a child process for embedded-stop.test.ts, so that a frozen event loop (the fault under test)
 * fails the test by its timeout instead of freezing the test runner. Prints one JSON line per step.
 *
 *   tsx embedded-stop-child.ts fault <dataDir>       the module aborts on the next statement (injected);
 *                                                    the app's answers over this database too
 *   tsx embedded-stop-child.ts disk-full <dataDir>   dataDir on a small file system of its own: fill it
 */
import { randomBytes } from 'node:crypto'
import { closeSync, openSync, rmSync, writeSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { type Extension, PGlite } from '@electric-sql/pglite'
import { vector } from '@electric-sql/pglite-pgvector'
import { createApp } from '../../../src/app.js'
import { createKey } from '../../../src/auth/manage-keys.js'
import { loadConfig } from '../../../src/config.js'
import { startEmbeddedSupervisor, supervisedDatabase } from '../../../src/db/embedded-database.js'
import { loadMigrations, migrate } from '../../../src/db/migrate.js'
import { type Database, openDatabase } from '../../../src/db/pool.js'
import { createLogger } from '../../../src/logger.js'
import { buildServices } from '../../../src/services.js'

const [mode, dataDir] = process.argv.slice(2) as ['fault' | 'disk-full', string]
const report = (step: string, data: Record<string, unknown> = {}) =>
  process.stdout.write(`${JSON.stringify({ step, ...data })}\n`)
const started = Date.now()
// Counts while the event loop is free; a module spinning on it stops the count.
let ticks = 0
setInterval(() => ticks++, 50).unref()
const logger = {
  info: (message: unknown) => report('log', { level: 'info', message }),
  error: (_detail: unknown, message?: unknown) => report('log', { level: 'error', message }),
} as never

/**
 * Makes the module do what PGlite's does after `abort()`: throw once from the main loop, then return
 * without reading its input (so PGlite's loop, which retries while input is left, would never end).
 */
const fault = { armed: false }
const { RuntimeError } = (globalThis as unknown as { WebAssembly: { RuntimeError: ErrorConstructor } })
  .WebAssembly
const faultExtension: Extension = {
  name: 'fault',
  setup: async (_pg, emscriptenOpts: { postRun?: unknown[] }) => ({
    emscriptenOpts: {
      ...emscriptenOpts,
      postRun: [
        ...(emscriptenOpts.postRun ?? []),
        (mod: { _PostgresMainLoopOnce(): void }) => {
          const loopOnce = mod._PostgresMainLoopOnce
          let aborted = false
          mod._PostgresMainLoopOnce = () => {
            if (fault.armed) {
              fault.armed = false
              aborted = true
              throw new RuntimeError('Aborted(). Build with -sASSERTIONS for more info.')
            }
            if (!aborted) loopOnce()
          }
        },
      ],
    },
  }),
}

async function open(): Promise<Database> {
  if (mode === 'disk-full') return openDatabase({ dataDir, poolSize: 1, logger })
  const supervisor = await startEmbeddedSupervisor({
    open: (guard) => PGlite.create({ dataDir, extensions: { vector, fault: faultExtension, guard } }),
    reopen: true,
    reopenDelayMs: 1000,
    logger,
  })
  return supervisedDatabase(supervisor)
}

async function attempt(sql: string, params: unknown[] = []) {
  const t0 = Date.now()
  try {
    const { rows } = await db.pool.query(sql, params)
    return { ok: true as const, rows, ms: Date.now() - t0 }
  } catch (error) {
    const { code, message } = error as { code?: string; message?: string }
    return { ok: false as const, code, message, ms: Date.now() - t0 }
  }
}

const db = await open()
await db.pool.query(
  'CREATE TABLE acked (id int PRIMARY KEY, pad text) WITH (vacuum_truncate = false, toast.vacuum_truncate = false)',
)
const acked: number[] = []
for (let id = 1; id <= 20; id++) {
  await db.pool.query('INSERT INTO acked (id) VALUES ($1)', [id])
  acked.push(id)
}
const fillPath = join(dirname(dataDir), 'fill')

// The app as the server builds it, over this database (fault mode).
let http: (path: string) => Promise<{ status: number; type: string | null; body: string }> = async () => {
  throw new Error('no app in this mode')
}
let closeServices = async () => {}

if (mode === 'fault') {
  await migrate(db.pool)
  const services = buildServices({
    config: loadConfig({ LOG_LEVEL: 'fatal' }),
    db,
    logger: createLogger('fatal'),
    migrations: loadMigrations(),
  })
  closeServices = () => services.close()
  const app = createApp(services)
  const { key } = await createKey(db.pool, { name: 'embedded-stop', scopes: ['admin'] })
  http = async (path) => {
    const res = await app.request(path, { headers: { authorization: `Bearer ${key}` } })
    return { status: res.status, type: res.headers.get('content-type'), body: await res.text() }
  }
  report('collections before', await http('/v1/collections'))
  fault.armed = true
  report('failed write', await attempt('INSERT INTO acked (id) VALUES (1000)'))
  report('read while stopped', await attempt('SELECT count(*)::int AS n FROM acked'))
  report('readyz while stopped', await http('/readyz'))
  report('collections while stopped', await http('/v1/collections'))
} else {
  // Room in the table's files for later rows (so inserts get as far as the write-ahead log), then no room at all.
  for (let i = 0; i < 300; i++) {
    await db.pool.query('INSERT INTO acked (id, pad) VALUES ($1, $2)', [
      -1 - i,
      randomBytes(60_000).toString('base64'),
    ])
  }
  await db.pool.query('DELETE FROM acked WHERE id < 0')
  await db.pool.query('VACUUM acked')
  await db.pool.query('CHECKPOINT')
  const fd = openSync(fillPath, 'w')
  const block = Buffer.alloc(1 << 20)
  try {
    for (;;) writeSync(fd, block)
  } catch {
    // ENOSPC: full
  } finally {
    closeSync(fd)
  }
  report('disk filled')
  let stopped: Awaited<ReturnType<typeof attempt>> | undefined
  for (let i = 0; i < 400 && !stopped; i++) {
    const id = 100 + i
    const sql = i % 10 === 9 ? 'CHECKPOINT' : 'INSERT INTO acked (id, pad) VALUES ($1, $2)'
    const result = await attempt(sql, sql === 'CHECKPOINT' ? [] : [id, randomBytes(2000).toString('base64')])
    if (result.ok && sql !== 'CHECKPOINT') acked.push(id)
    if (!result.ok && result.code === '57P02') stopped = result
  }
  report('failed write', stopped ?? { ok: true })
  report('read while stopped', await attempt('SELECT count(*)::int AS n FROM acked'))
  rmSync(fillPath, { force: true })
  report('disk freed')
}

// Back: the same folder reopened, every acknowledged row there.
let back: Awaited<ReturnType<typeof attempt>> | undefined
for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
  back = await attempt('SELECT array_agg(id ORDER BY id) AS ids FROM acked WHERE id > 0')
  if (back.ok) break
  await new Promise((resolve) => setTimeout(resolve, 100))
}
const stored = new Set<number>(back?.ok ? ((back.rows[0] as { ids: number[] }).ids ?? []) : [])
report('reopened', {
  ok: back?.ok ?? false,
  acked: acked.length,
  missing: acked.filter((id) => !stored.has(id)),
  write: (await attempt('INSERT INTO acked (id) VALUES (5000)')).ok,
})
if (mode === 'fault') report('readyz after', await http('/readyz'))
const t0 = Date.now()
await closeServices()
await db.close()
report('closed', { ms: Date.now() - t0, ticks, seconds: (Date.now() - started) / 1000 })
process.exit(0)
