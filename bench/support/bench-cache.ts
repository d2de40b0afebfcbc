import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { migrate } from '../../src/db/migrate.js'
import { type Database, openDatabase } from '../../src/db/pool.js'
import { createBenchDatabase } from './bench-database.js'

/**
 * Benchmark data that takes minutes to build (an ingested corpus, 100k chunks) is kept in a database
 * of its own and reused while its fingerprint (what went into it: corpus, code that shaped it) matches.
 * The fingerprint is written last, so a build that died halfway is never reused. A reused database is
 * migrated forward like any deployment, so a new migration is measured on the kept data.
 */
export async function cachedBenchDatabase(options: {
  serverUrl: string
  name: string
  fingerprint: string
  poolSize?: number
  build: (db: Database, url: string) => Promise<void>
  log: (message: string) => void
}): Promise<{ db: Database; url: string; reused: boolean }> {
  const url = new URL(options.serverUrl)
  url.pathname = `/${options.name}`
  const open = () => openDatabase({ url: url.toString(), dataDir: '', poolSize: options.poolSize ?? 4 })
  if (
    process.env.BENCH_REBUILD !== '1' &&
    (await storedFingerprint(options.serverUrl, options.name)) === options.fingerprint
  ) {
    const db = await open()
    try {
      await migrate(db.pool)
      options.log(`reusing database ${options.name} (fingerprint ${options.fingerprint.slice(0, 12)})`)
      return { db, url: url.toString(), reused: true }
    } catch (error) {
      // A migration edited since it was applied here (work in progress): build afresh.
      options.log(`not reusing ${options.name}: ${(error as Error).message}`)
      await db.close()
    }
  }
  const { db } = await createBenchDatabase(options.serverUrl, options.name, options.poolSize ?? 4)
  await options.build(db, url.toString())
  await db.pool.query('CREATE TABLE bench_fingerprint (fingerprint text NOT NULL)')
  await db.pool.query('INSERT INTO bench_fingerprint VALUES ($1)', [options.fingerprint])
  return { db, url: url.toString(), reused: false }
}

async function storedFingerprint(serverUrl: string, name: string): Promise<string | undefined> {
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  const client = new pg.Client({ connectionString: url.toString() })
  try {
    await client.connect()
    const { rows } = await client.query<{ fingerprint: string }>('SELECT fingerprint FROM bench_fingerprint')
    return rows[0]?.fingerprint
  } catch {
    return undefined
  } finally {
    await client.end().catch(() => {})
  }
}

/** A hash of strings and of every file under the given folders (their paths and contents). */
export function fingerprintOf(parts: readonly string[], folders: readonly string[] = []): string {
  const hash = createHash('sha256')
  for (const part of parts) hash.update(part).update('\0')
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir).sort()) {
      const path = join(dir, entry)
      if (statSync(path).isDirectory()) walk(path)
      else hash.update(path).update('\0').update(readFileSync(path)).update('\0')
    }
  }
  for (const folder of folders) walk(folder)
  return hash.digest('hex')
}

/**
 * Measured results kept between runs under .bench-data/ (git-ignored), so a run stopped halfway can be
 * resumed with BENCH_RESUME=1: a result is reused only for the same key (data fingerprint and the code
 * that measured it), never across code changes.
 */
export class ResultStore<T> {
  private readonly path: string
  private readonly results: Record<string, T>

  constructor(
    name: string,
    private readonly key: string,
  ) {
    const dir = join(import.meta.dirname, '..', '..', '.bench-data')
    mkdirSync(dir, { recursive: true })
    this.path = join(dir, `${name}.json`)
    const stored = existsSync(this.path)
      ? (JSON.parse(readFileSync(this.path, 'utf8')) as { key: string; results: Record<string, T> })
      : undefined
    this.results = process.env.BENCH_RESUME === '1' && stored?.key === key ? stored.results : {}
  }

  get(label: string): T | undefined {
    return this.results[label]
  }

  set(label: string, value: T): void {
    this.results[label] = value
    writeFileSync(this.path, JSON.stringify({ key: this.key, results: this.results }, null, 1))
  }
}
