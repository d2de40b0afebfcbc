import { Session } from 'node:inspector/promises'
import pg from 'pg'

/**
 * Bench-only instruments for an ingest run: statement timers on the pool the pipeline is handed, and
 * a sampling CPU profile of this process read programmatically. Neither changes what the pipeline
 * does; the pool is wrapped, not replaced.
 */

export interface StatementStat {
  count: number
  ms: number
}

/** What a statement does, from its SQL (the pipeline's statements are few and fixed). */
export function statementCategory(sql: string): string {
  const s = sql.trimStart()
  if (/^(BEGIN|COMMIT|ROLLBACK)/i.test(s)) return 'transaction control (BEGIN/COMMIT)'
  if (/ingest_job_files/.test(s)) return 'job files (store and read)'
  if (/UPDATE ingest_jobs SET progress/.test(s)) return 'progress writes'
  if (/INSERT INTO documents/.test(s)) return 'write: upsert documents'
  if (/UPDATE chunks SET ordinal/.test(s)) return 'write: move old chunks aside'
  if (/INSERT INTO chunks|INSERT INTO chunks_stage|COPY chunks_stage/.test(s)) return 'write: insert chunks'
  if (/DELETE FROM chunks/.test(s)) return 'write: delete old chunks'
  if (/FROM documents\s+WHERE collection_id = \$1 AND source_id = ANY/.test(s))
    return 'diff: stored document hashes'
  if (/SELECT DISTINCT content_hash/.test(s)) return 'diff: stored embeddings'
  if (/term_df|bm25/.test(s)) return 'write: BM25 statistics'
  if (/^(CREATE|DROP) INDEX/i.test(s)) return 'index DDL (the HNSW build after a first load)'
  return 'other (jobs, claims, collections)'
}

export class StatementTimers {
  readonly stats = new Map<string, StatementStat>()
  enabled = true

  record(sql: string, ms: number): void {
    if (!this.enabled) return
    const category = statementCategory(sql)
    const stat = this.stats.get(category) ?? { count: 0, ms: 0 }
    stat.count++
    stat.ms += ms
    this.stats.set(category, stat)
  }

  reset(): void {
    this.stats.clear()
  }
}

type QueryFn = (this: pg.Client, ...args: unknown[]) => unknown
type Callback = (error: unknown, result: unknown) => void

let installed: StatementTimers | undefined

/**
 * Time every statement of every pg client in this process, from the moment the client sends it to its
 * result, by wrapping `pg.Client.prototype.query` (PGlite's adapter client inherits it). Timing at the
 * client, not the pool, leaves out waiting for a free connection, which on PGlite (one connection)
 * would charge a group's diff query with the whole write transaction it queued behind. On PostgreSQL a
 * statement's time is the server's work plus the round trip; on PGlite it is the engine's work on this
 * thread. COPY streams are timed until they finish.
 */
export function installStatementTimers(timers: StatementTimers): void {
  if (installed) {
    installed = timers
    return
  }
  installed = timers
  const original = pg.Client.prototype.query as unknown as QueryFn
  const wrapped: QueryFn = function (this: pg.Client, ...args: unknown[]) {
    const first = args[0] as { text?: string; submit?: unknown; once?: (e: string, f: () => void) => void }
    const sql = typeof first === 'string' ? first : (first?.text ?? '')
    const started = performance.now()
    const done = () => installed?.record(sql, performance.now() - started)
    if (first && typeof first === 'object' && typeof first.submit === 'function' && first.once) {
      // A COPY stream (pg-copy-streams): done when the server has taken all of it.
      const copy = first.text === undefined ? ((first as { query?: string }).query ?? 'COPY') : first.text
      const finish = () => installed?.record(copy, performance.now() - started)
      first.once('finish', finish)
      return original.apply(this, args)
    }
    const last = args.length - 1
    if (typeof args[last] === 'function') {
      const callback = args[last] as Callback
      args[last] = (error: unknown, result: unknown) => {
        done()
        callback(error, result)
      }
      return original.apply(this, args)
    }
    if (
      first &&
      typeof first === 'object' &&
      typeof (first as { callback?: unknown }).callback === 'function'
    ) {
      const config = first as { callback: Callback }
      const callback = config.callback
      config.callback = (error, result) => {
        done()
        callback(error, result)
      }
      return original.apply(this, args)
    }
    const result = original.apply(this, args)
    if (result && typeof (result as Promise<unknown>).then === 'function')
      (result as Promise<unknown>).then(done, done)
    return result
  }
  pg.Client.prototype.query = wrapped as unknown as typeof pg.Client.prototype.query
}

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string }
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

/**
 * Where a sample's time goes: the innermost frame on its stack that a rule recognises. Order matters:
 * the BPE encoder is recognised before the chunker that called it, the pg client before the SQL module.
 */
const RULES: { category: string; test: (fn: string, url: string) => boolean }[] = [
  { category: 'tokenize: BPE encoder (js-tiktoken)', test: (_f, u) => u.includes('js-tiktoken') },
  {
    category: 'tokenize: pre-split and piece cache',
    test: (f, u) => u.endsWith('/tokenizer.ts') || f === 'countTokens',
  },
  { category: 'hash (SHA-256 of documents and chunks)', test: (f) => f === 'sha256' || f === 'documentHash' },
  {
    category: 'chunk: structure (Markdown blocks, packing, splitting)',
    test: (_f, u) => u.includes('/ingest/chunking/'),
  },
  {
    category: 'read and parse (detect, CSV/JSON, HTML to text, front matter)',
    test: (_f, u) =>
      u.includes('/ingest/loaders/') || u.includes('node-html-markdown') || u.includes('csv-parse'),
  },
  { category: 'embed: stub server (same process)', test: (_f, u) => u.includes('openai-stub') },
  {
    category: 'embed: client (@langchain/openai, openai, batching)',
    test: (_f, u) =>
      u.includes('/openai/') ||
      u.includes('@langchain') ||
      u.includes('embed-texts') ||
      u.includes('openai-embedder'),
  },
  { category: 'database engine (PGlite, this thread)', test: (_f, u) => u.includes('@electric-sql/pglite') },
  {
    category: 'database client (pg: encode params, parse rows; vector literals)',
    test: (f, u) =>
      u.includes('/node_modules/pg') ||
      u.includes('/src/db/') ||
      u.includes('binary-copy') ||
      f === 'toVectorLiteral',
  },
  {
    category: 'pipeline bookkeeping (diff, progress JSON, jobs)',
    test: (_f, u) => u.includes('/ingest/pipeline/') || u.includes('/ingest/jobs/'),
  },
]

const SPECIAL: Record<string, string> = {
  '(idle)': 'idle (waiting on the database, the embedder or I/O)',
  '(garbage collector)': 'garbage collection',
  '(program)': 'native, unattributed',
}

export class CpuProfiler {
  private readonly session = new Session()

  async start(): Promise<void> {
    this.session.connect()
    await this.session.post('Profiler.enable')
    await this.session.post('Profiler.setSamplingInterval', { interval: 500 })
    await this.session.post('Profiler.start')
  }

  /** Milliseconds per category over the profiled span. */
  async stop(): Promise<Map<string, number>> {
    const { profile } = (await this.session.post('Profiler.stop')) as unknown as { profile: CpuProfile }
    await this.session.post('Profiler.disable')
    this.session.disconnect()
    return attribute(profile)
  }
}

function attribute(profile: CpuProfile): Map<string, number> {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const categoryOf = new Map<number, string | null>()
  // The innermost recognised frame, walking up the stack; null when nothing on the stack is ours.
  const classify = (id: number): string | null => {
    const known = categoryOf.get(id)
    if (known !== undefined) return known
    const { functionName, url } = byId.get(id)!.callFrame
    let category: string | null =
      (Object.hasOwn(SPECIAL, functionName) ? SPECIAL[functionName] : undefined) ??
      RULES.find((r) => r.test(functionName, url))?.category ??
      null
    if (category === null) {
      const up = parent.get(id)
      category = up === undefined ? null : classify(up)
    }
    categoryOf.set(id, category)
    return category
  }
  const out = new Map<string, number>()
  profile.samples.forEach((id, i) => {
    const url = byId.get(id)?.callFrame.url ?? ''
    const category =
      classify(id) ??
      (url.startsWith('node:') ? 'node internals (sockets, HTTP parsing, streams)' : 'other JavaScript')
    // timeDeltas[i] is the time since the previous sample: it belongs to this sample.
    out.set(category, (out.get(category) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000)
  })
  return out
}
