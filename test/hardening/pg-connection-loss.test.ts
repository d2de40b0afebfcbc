import type { ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLAIM_LOCK_KEY } from '../../src/db/ingest-jobs.js'
import type { Database } from '../../src/db/pool.js'
import { FIXTURES, readFolder } from '../ingest/ingest-harness.js'
import { type OpenAIStub, startOpenAIStub } from '../support/openai-stub.js'
import { type ServerProcess, spawnServer, spawnWorker } from '../support/spawn-server.js'
import { createTestDatabase, usingRealPostgres } from '../support/test-db.js'

/**
 * A PostgreSQL backend killed (`pg_terminate_backend`) while the process holds its connection inside a
 * transaction. Each case pins a transaction on a lock, pauses the process (SIGSTOP), lets the statement
 * finish so the backend sits "idle in transaction", terminates it and resumes the process: the
 * process must live, the request answer 503, the job be retried.
 * PostgreSQL only: the embedded PGlite runs inside the process, so there is no connection to lose.
 */
describe.runIf(usingRealPostgres())(
  'a PostgreSQL connection lost inside a transaction',
  { timeout: 300_000 },
  () => {
    let stub: OpenAIStub
    const databases: Database[] = []
    const admins: pg.Client[] = []
    const processes: ChildProcess[] = []

    /** A fresh database and a connection of the test's own to watch and terminate its backends. */
    async function newTarget(): Promise<Target> {
      const db = await createTestDatabase({ migrate: false })
      databases.push(db)
      const admin = new pg.Client({ connectionString: db.url })
      await admin.connect()
      admins.push(admin)
      return { url: db.url!, admin }
    }

    beforeAll(async () => {
      stub = await startOpenAIStub({ embeddingDimensions: 64 })
    })
    afterAll(async () => {
      for (const child of processes) if (child.exitCode === null) child.kill('SIGKILL')
      for (const admin of admins) await admin.end()
      for (const db of databases) await db.close()
      await stub?.close()
    })

    const env = (target: Target, extra: Record<string, string> = {}) => ({
      DATABASE_URL: target.url,
      OPENAI_BASE_URL: stub.url,
      OPENAI_API_KEY: 'test-key',
      EMBEDDING_DIMENSIONS: '64',
      INGEST_GROUP_DOCUMENTS: '4',
      JOB_LEASE_MS: '3000',
      WORKER_POLL_MS: '200',
      RATE_LIMIT_RPM: '0',
      RATE_LIMIT_TPM: '0',
      GENERATION_LOG_FLUSH_MS: '20',
      RATE_LIMIT_SYNC_MS: '20',
      MODELS_JSON: JSON.stringify({ models: { 'stub-chat': {} } }),
      ...extra,
    })

    /** A connection of the test's own holding `lock` in an open transaction until `release()`. */
    async function hold(target: Target, lock: string): Promise<{ release(): Promise<void> }> {
      const client = new pg.Client({ connectionString: target.url })
      await client.connect()
      await client.query('BEGIN')
      await client.query(lock)
      return {
        release: async () => {
          await client.query('ROLLBACK')
          await client.end()
        },
      }
    }

    async function waitForBackend(admin: pg.Client, where: string, params: unknown[]): Promise<number> {
      const deadline = Date.now() + 30_000
      for (;;) {
        const { rows } = await admin.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND ${where}`,
          params,
        )
        if (rows[0]) return rows[0].pid
        if (Date.now() > deadline) throw new Error(`no backend where ${where}`)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    }

    /**
     * The process's statement matching `query` waits on the lock `blocker` holds; with the process paused,
     * the lock goes, the statement finishes and its backend is left idle inside the transaction; it is
     * terminated there and the process resumes.
     */
    async function killIdleInTransaction(
      { admin }: Target,
      child: ChildProcess,
      query: string,
      blocker: { release(): Promise<void> },
    ) {
      const pid = await waitForBackend(
        admin,
        "xact_start IS NOT NULL AND wait_event_type = 'Lock' AND query LIKE $1",
        [`%${query}%`],
      )
      child.kill('SIGSTOP')
      try {
        await blocker.release()
        await waitForBackend(admin, "pid = $1 AND state = 'idle in transaction'", [pid])
        await admin.query('SELECT pg_terminate_backend($1)', [pid])
      } finally {
        child.kill('SIGCONT')
      }
    }

    const adminKey = (output: string) => /onb_[a-z0-9]{12}_[A-Za-z0-9_-]{43}/.exec(output)![0]
    const call = (server: ServerProcess, key: string, path: string, init: RequestInit = {}) =>
      fetch(`${server.baseUrl}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...init.headers },
      })
    const collectionBody = (name: string) =>
      JSON.stringify({ name, embeddingModel: 'stub-embed', embeddingDimensions: 64 })
    const upload = async (server: ServerProcess, key: string, collection: string) => {
      const form = new FormData()
      for (const file of readFolder(join(FIXTURES, 'guidelines')))
        form.append('files', new Blob([file.content]), file.name)
      const response = await fetch(`${server.baseUrl}/v1/collections/${collection}/ingest`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}` },
        body: form,
      })
      expect(response.status).toBe(202)
      return String(((await response.json()) as { jobId: string }).jobId)
    }
    const waitForJob = async (server: ServerProcess, key: string, id: string) => {
      const deadline = Date.now() + 90_000
      for (;;) {
        const view = (await (await call(server, key, `/v1/ingest-jobs/${id}`)).json()) as JobView
        if (view.status === 'succeeded' || view.status === 'failed') return view
        if (Date.now() > deadline) throw new Error(`job not finished: ${JSON.stringify(view)}`)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
    const guidelineCount = readFolder(join(FIXTURES, 'guidelines')).length

    // One API process for the first two cases (the third starts its own), so a crash in either fails it.
    let target: Target
    let server: ServerProcess
    let key: string
    beforeAll(async () => {
      target = await newTarget()
      server = await spawnServer(env(target), { readyTimeoutMs: 150_000 })
      processes.push(server.child)
      key = adminKey(server.output())
    }, 180_000)

    it('an API request answers 503, the process lives on and writes the rows and charges it had queued', async () => {
      const task = await call(server, key, '/v1/tasks/echo', {
        method: 'PUT',
        body: JSON.stringify({
          systemPrompt: 'You write copy.',
          route: { strategy: 'foundation', foundationModel: 'stub-chat' },
        }),
      })
      expect(task.status).toBe(201)

      // Generation rows and token charges stay queued in memory while their tables are locked.
      const logTables = await hold(target, 'LOCK TABLE generations, rate_limit_windows IN EXCLUSIVE MODE')
      const generated = await call(server, key, '/v1/generate', {
        method: 'POST',
        body: JSON.stringify({ task: 'echo', input: 'Write a tagline.' }),
      })
      expect(generated.status).toBe(200)
      const { id: generationId } = (await generated.json()) as { id: string }

      const collections = await hold(target, 'LOCK TABLE collections IN EXCLUSIVE MODE')
      const pending = call(server, key, '/v1/collections', { method: 'POST', body: collectionBody('cut') })
      await killIdleInTransaction(target, server.child, 'INSERT INTO collections', collections)
      const cut = await pending
      expect(cut.status).toBe(503)
      expect(cut.headers.get('retry-after')).toBe('1')
      await logTables.release()

      expect(server.child.exitCode).toBeNull()
      expect((await fetch(`${server.baseUrl}/readyz`)).status).toBe(200)
      const again = await call(server, key, '/v1/collections', {
        method: 'POST',
        body: collectionBody('cut'),
      })
      expect(again.status).toBe(201)
      await expect
        .poll(
          async () => {
            const { rows } = await target.admin.query<{ logged: number; charged: boolean }>(
              `SELECT (SELECT count(*)::int FROM generations WHERE id = $1) AS logged,
                  (SELECT coalesce(sum(tokens), 0) > 0 FROM rate_limit_windows) AS charged`,
              [generationId],
            )
            return rows[0]
          },
          { timeout: 15_000 },
        )
        .toEqual({ logged: 1, charged: true })
    })

    it('an ingest job in the API process is retried and finishes; the process lives on', async () => {
      expect(
        (await call(server, key, '/v1/collections', { method: 'POST', body: collectionBody('jobs') })).status,
      ).toBe(201)
      const documents = await hold(target, 'LOCK TABLE documents IN EXCLUSIVE MODE')
      const jobId = await upload(server, key, 'jobs')
      await killIdleInTransaction(target, server.child, 'INSERT INTO documents', documents)

      const job = await waitForJob(server, key, jobId)
      expect(server.child.exitCode).toBeNull()
      expect(job).toMatchObject({ status: 'succeeded', attempts: 2, errors: [] })
      expect(job.progress.documents).toMatchObject({ total: guidelineCount, added: guidelineCount })
      const { rows } = await target.admin.query<{ count: number }>(
        `SELECT count(*)::int AS count FROM documents d JOIN collections c ON c.id = d.collection_id
       WHERE c.name = 'jobs'`,
      )
      expect(rows[0]!.count).toBe(guidelineCount)
    })

    it('a standalone worker whose claim is cut off lives on and runs the next job', async () => {
      const own = await newTarget()
      const api = await spawnServer(env(own, { RUN_WORKER: 'false' }), { readyTimeoutMs: 150_000 })
      processes.push(api.child)
      const key = adminKey(api.output())
      const worker = await spawnWorker(env(own), { readyTimeoutMs: 150_000 })
      processes.push(worker.child)

      // The idle worker's claim transaction waits on the claim lock; it is cut off there.
      const claimLock = await hold(own, `SELECT pg_advisory_xact_lock(${CLAIM_LOCK_KEY})`)
      await killIdleInTransaction(own, worker.child, 'pg_advisory_xact_lock', claimLock)
      await new Promise((resolve) => setTimeout(resolve, 500))
      expect(worker.child.exitCode).toBeNull()

      expect(
        (await call(api, key, '/v1/collections', { method: 'POST', body: collectionBody('later') })).status,
      ).toBe(201)
      const job = await waitForJob(api, key, await upload(api, key, 'later'))
      expect(job.status).toBe('succeeded')
      expect(worker.child.exitCode).toBeNull()
      worker.child.kill('SIGTERM')
      expect(await worker.exited).toBe(0)
      expect(worker.output()).not.toMatch(/Unhandled 'error' event/)
    })
  },
)

interface Target {
  url: string
  admin: pg.Client
}

interface JobView {
  status: 'queued' | 'running' | 'succeeded' | 'failed'
  attempts: number
  errors: unknown[]
  progress: { documents: { total: number; added: number } }
}
