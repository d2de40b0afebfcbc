import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { JobProgress } from '../../ingest/pipeline/progress.js'
import type { Database } from '../../src/db/pool.js'
import { chunkSet, FIXTURES, readFolder } from '../ingest/ingest-harness.js'
import { type OpenAIStub, startOpenAIStub } from '../support/openai-stub.js'
import { type ServerProcess, spawnServer } from '../support/spawn-server.js'
import { createTestDatabase, usingRealPostgres } from '../support/test-db.js'

// Two server processes must share one database, which an in-memory PGlite cannot be.
describe.runIf(usingRealPostgres())('an API process killed with SIGKILL mid-ingest', () => {
  let db: Database & { url?: string }
  let stub: OpenAIStub
  const servers: ServerProcess[] = []

  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false })
    stub = await startOpenAIStub({ embeddingDimensions: 64 })
  })
  afterAll(async () => {
    for (const server of servers) if (server.child.exitCode === null) server.child.kill('SIGKILL')
    await stub?.close()
    await db?.close()
  })

  const serverEnv = () => ({
    DATABASE_URL: db.url!,
    OPENAI_BASE_URL: stub.url,
    OPENAI_API_KEY: 'test-key',
    EMBEDDING_DIMENSIONS: '64',
    EMBEDDING_BATCH_SIZE: '8',
    EMBEDDING_CONCURRENCY: '2',
    CHUNK_MAX_TOKENS: '200',
    CHUNK_OVERLAP_TOKENS: '20',
    // Small groups so the job commits often and has many points to be killed between.
    INGEST_GROUP_DOCUMENTS: '2',
    JOB_LEASE_MS: '2000',
    WORKER_POLL_MS: '200',
    RATE_LIMIT_RPM: '0',
    RATE_LIMIT_TPM: '0',
  })
  const start = async () => {
    const server = await spawnServer(serverEnv())
    servers.push(server)
    return server
  }
  const files = () => [...readFolder(join(FIXTURES, 'guidelines')), ...readFolder(join(FIXTURES, 'products'))]

  it('leaves a job that the next API process reclaims and finishes exactly like a clean run', async () => {
    const first = await start()
    const key = /onb_[a-z0-9]{12}_[A-Za-z0-9_-]{43}/.exec(first.output())?.[0]
    expect(key).toBeDefined()
    const call = async <T = Record<string, unknown>>(
      server: ServerProcess,
      path: string,
      init: RequestInit = {},
    ): Promise<T> => {
      const response = await fetch(`${server.baseUrl}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${key}`, ...init.headers },
      })
      const body = (await response.json()) as T
      if (!response.ok)
        throw new Error(`${init.method ?? 'GET'} ${path}: ${response.status} ${JSON.stringify(body)}`)
      return body
    }
    const createCollection = (server: ServerProcess, name: string) =>
      call(server, '/v1/collections', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name, embeddingModel: 'stub-embed', embeddingDimensions: 64 }),
      })
    const upload = async (server: ServerProcess, collection: string) => {
      const form = new FormData()
      for (const file of files()) form.append('files', new Blob([file.content]), file.name)
      const accepted = await call(server, `/v1/collections/${collection}/ingest`, {
        method: 'POST',
        body: form,
      })
      return String(accepted.jobId)
    }
    const job = (server: ServerProcess, id: string) =>
      call(server, `/v1/ingest-jobs/${id}`) as Promise<JobView>
    const waitForJob = async (server: ServerProcess, id: string, done: (view: JobView) => boolean) => {
      const deadline = Date.now() + 90_000
      for (;;) {
        const view = await job(server, id)
        if (done(view)) return view
        if (view.status === 'failed') throw new Error(`job failed: ${JSON.stringify(view)}`)
        if (Date.now() > deadline) throw new Error(`timed out waiting on job: ${JSON.stringify(view)}`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }

    // The reference: the same upload, ingested by the same kind of process without interruption.
    await createCollection(first, 'clean')
    const cleanJob = await upload(first, 'clean')
    const clean = await waitForJob(first, cleanJob, (view) => view.status === 'succeeded')
    const total = clean.progress!.documents.total
    expect(total).toBe(23)

    // Slow embeddings so the job is still mid-way when the process dies.
    stub.setOptions({ latencyMs: 150 })
    await createCollection(first, 'target')
    const targetJob = await upload(first, 'target')
    await waitForJob(first, targetJob, (view) => (view.progress?.documents.done ?? 0) >= 2)
    first.child.kill('SIGKILL')
    await first.exited
    stub.setOptions({ latencyMs: 0 })

    const { rows: killedRows } = await db.pool.query(
      'SELECT status, attempts, progress FROM ingest_jobs WHERE id = $1',
      [targetJob],
    )
    const killed = killedRows[0] as { status: string; attempts: number; progress: JobView['progress'] }
    expect(killed.status).toBe('running')
    expect(killed.attempts).toBe(1)
    expect(killed.progress!.documents.done).toBeGreaterThan(0)
    expect(killed.progress!.documents.done).toBeLessThan(total)

    const second = await start()
    expect(second.output()).not.toMatch(/onb_[a-z0-9]{12}_/)
    const finished = await waitForJob(second, targetJob, (view) => view.status === 'succeeded')

    expect(finished.attempts).toBe(2)
    expect(finished.errors).toEqual([])
    expect(finished.progress).toMatchObject({
      phase: 'done',
      files: { total: clean.progress!.files.total, done: clean.progress!.files.total },
      documents: { total, done: total, added: total, updated: 0, unchanged: 0, deleted: 0 },
      chunks: { pending: 0 },
      errors: 0,
    })
    // Chunks embedded by the killed attempt were committed with their documents; nothing is counted twice.
    const chunkCount = (await chunkSet(db, await collectionId('clean'))).length
    expect(finished.progress!.chunks.embedded + finished.progress!.chunks.reused).toBe(chunkCount)

    const target = await collectionId('target')
    expect(await chunkSet(db, target)).toEqual(await chunkSet(db, await collectionId('clean')))
    const { rows: duplicates } = await db.pool.query(
      `SELECT document_id, ordinal FROM chunks WHERE collection_id = $1
       GROUP BY document_id, ordinal HAVING count(*) > 1`,
      [target],
    )
    expect(duplicates).toEqual([])
    const { rows: documents } = await db.pool.query<{ sourceId: string; chunks: number }>(
      `SELECT d.source_id AS "sourceId", count(c.id)::int AS chunks
       FROM documents d LEFT JOIN chunks c ON c.document_id = d.id
       WHERE d.collection_id = $1 GROUP BY d.source_id`,
      [target],
    )
    expect(documents).toHaveLength(total)
    expect(documents.filter((document) => document.chunks === 0)).toEqual([])
  }, 180_000)

  async function collectionId(name: string): Promise<number> {
    const { rows } = await db.pool.query<{ id: number }>(
      'SELECT id::int AS id FROM collections WHERE name = $1',
      [name],
    )
    return rows[0]!.id
  }
})

interface JobView {
  status: 'queued' | 'running' | 'succeeded' | 'failed'
  attempts: number
  errors: unknown[]
  progress: Omit<JobProgress, 'attempt'> | null
}
