import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createIngestJob } from '../../ingest/jobs/create-job.js'
import { startWorker } from '../../ingest/jobs/worker.js'
import { runJob } from '../../ingest/pipeline/run-job.js'
import { claimJob, findJob, saveJobProgress } from '../../src/db/ingest-jobs.js'
import type { Database } from '../../src/db/pool.js'
import { type OpenAIStub, startOpenAIStub } from '../support/openai-stub.js'
import { createTestDatabase, usingRealPostgres } from '../support/test-db.js'
import { chunkSet, FIXTURES, ingestDeps, ingestNow, makeCollection, readFolder } from './ingest-harness.js'

let db: Database & { url?: string }
let stub: OpenAIStub

beforeAll(async () => {
  db = await createTestDatabase()
  stub = await startOpenAIStub({ embeddingDimensions: 64 })
})
afterAll(async () => {
  await stub.close()
  await db.close()
})

const corpus = () => [...readFolder(join(FIXTURES, 'guidelines')), ...readFolder(join(FIXTURES, 'products'))]
// Small groups so a job has many commits to be interrupted between.
const SMALL_GROUPS = { INGEST_GROUP_DOCUMENTS: '2' }

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

async function cursorOf(jobId: string): Promise<number> {
  const job = await findJob(db.pool, jobId)
  return ((job?.progress ?? {}) as { cursor?: number }).cursor ?? 0
}

describe('job leases and reclaim', () => {
  it('a job abandoned mid-way is reclaimed after its lease and ends with the same chunks as a clean run', async () => {
    const deps = ingestDeps(db, stub.url, SMALL_GROUPS)
    const clean = await makeCollection(db, 'reclaim-clean')
    await ingestNow(deps, clean, corpus())

    const target = await makeCollection(db, 'reclaim-target')
    const job = await createIngestJob(deps, { collection: target, mode: 'upsert', files: corpus() })
    const first = await claimJob(db.pool, 'worker-that-dies', 60_000, job.id)
    // The first worker stops dead after a few committed groups, without finishing or releasing the job.
    const dies = new AbortController()
    const outcome = await runJob(deps, first!, 'worker-that-dies', {
      signal: dies.signal,
      onProgress: (progress) => {
        if (progress.cursor >= 6) dies.abort()
      },
    })
    expect(outcome).toBe('stopped')
    expect(await cursorOf(job.id)).toBeGreaterThanOrEqual(6)
    expect(await claimJob(db.pool, 'second-worker', 60_000, job.id)).toBeUndefined()

    await db.pool.query("UPDATE ingest_jobs SET locked_until = now() - interval '1 second' WHERE id = $1", [
      job.id,
    ])
    const second = startWorker({
      deps,
      workerId: 'second-worker',
      pollIntervalMs: 20,
      leaseMs: 60_000,
      onlyJobId: job.id,
    })
    await second.done

    const finished = (await findJob(db.pool, job.id))!
    expect(finished.status).toBe('succeeded')
    expect(finished.attempts).toBe(2)
    expect(finished.progress).toMatchObject({
      documents: { total: 23, done: 23, added: 23, updated: 0, unchanged: 0 },
    })
    expect(await chunkSet(db, target.id)).toEqual(await chunkSet(db, clean.id))
    // The dead worker's late writes are refused.
    expect(await saveJobProgress(db.pool, job.id, 'worker-that-dies', {})).toBe(false)
  })

  it('two workers running at once share the queue and never run one collection twice at a time', async () => {
    const deps = ingestDeps(db, stub.url, SMALL_GROUPS)
    const a = await makeCollection(db, 'parallel-a')
    const b = await makeCollection(db, 'parallel-b')
    const jobs = [
      await createIngestJob(deps, { collection: a, mode: 'upsert', files: corpus() }),
      await createIngestJob(deps, { collection: b, mode: 'upsert', files: corpus() }),
      await createIngestJob(deps, { collection: a, mode: 'sync', files: corpus() }),
    ]
    const ran: string[] = []
    const spans = new Map<string, { start: number; end?: number }>()
    const workers = ['w1', 'w2'].map((workerId) =>
      startWorker({
        deps,
        workerId,
        pollIntervalMs: 20,
        autoBackfill: false,
        onProgress: (job) => {
          if (!spans.has(job.id)) spans.set(job.id, { start: performance.now() })
        },
        onJobDone: (job) => {
          spans.get(job.id)!.end = performance.now()
          ran.push(`${workerId}:${job.id}`)
        },
      }),
    )
    await waitFor(async () => (ran.length === 3 ? true : undefined))
    await Promise.all(workers.map((worker) => worker.stop()))
    for (const job of jobs) expect((await findJob(db.pool, job.id))?.status).toBe('succeeded')
    const [firstA, , secondA] = jobs.map((job) => spans.get(job.id)!)
    expect(secondA!.start).toBeGreaterThanOrEqual(firstA!.end!)
    expect(new Set(ran.map((entry) => entry.split(':')[0])).size).toBe(2)
    const last = await findJob(db.pool, jobs[2]!.id)
    expect(last?.progress).toMatchObject({ documents: { unchanged: 23 } })
    expect(await chunkSet(db, a.id)).toEqual(await chunkSet(db, b.id))
  })

  it('stopping a worker hands its job back to the queue, and the next worker resumes it', async () => {
    stub.setOptions({ latencyMs: 30 })
    try {
      const deps = ingestDeps(db, stub.url, SMALL_GROUPS)
      const collection = await makeCollection(db, 'handed-back')
      const job = await createIngestJob(deps, { collection, mode: 'upsert', files: corpus() })
      const first = startWorker({ deps, workerId: 'stopping', pollIntervalMs: 20, onlyJobId: job.id })
      await waitFor(async () => ((await cursorOf(job.id)) >= 4 ? true : undefined))
      await first.stop()
      expect((await findJob(db.pool, job.id))?.status).toBe('queued')
      const next = startWorker({ deps, workerId: 'next', pollIntervalMs: 20, onlyJobId: job.id })
      await next.done
      const finished = await findJob(db.pool, job.id)
      expect(finished?.status).toBe('succeeded')
      expect(finished?.progress).toMatchObject({ documents: { added: 23 } })
    } finally {
      stub.setOptions({ latencyMs: 0 })
    }
  })
})

describe.runIf(usingRealPostgres())('a worker process killed with SIGKILL', () => {
  it('leaves a job that another worker reclaims and finishes exactly like a clean run', async () => {
    const deps = ingestDeps(db, stub.url, SMALL_GROUPS)
    const clean = await makeCollection(db, 'kill-clean')
    await ingestNow(deps, clean, corpus())

    const target = await makeCollection(db, 'kill-target')
    const job = await createIngestJob(deps, { collection: target, mode: 'upsert', files: corpus() })
    stub.setOptions({ latencyMs: 150 })
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/onbrand.ts', 'worker'], {
      env: {
        ...process.env,
        DATABASE_URL: db.url!,
        OPENAI_BASE_URL: stub.url,
        OPENAI_API_KEY: 'test-key',
        LOG_LEVEL: 'silent',
        WORKER_POLL_MS: '50',
        JOB_LEASE_MS: '1500',
        EMBEDDING_BATCH_SIZE: '8',
        EMBEDDING_CONCURRENCY: '2',
        CHUNK_MAX_TOKENS: deps.config.CHUNK_MAX_TOKENS.toString(),
        CHUNK_OVERLAP_TOKENS: deps.config.CHUNK_OVERLAP_TOKENS.toString(),
        ...SMALL_GROUPS,
      },
      stdio: 'ignore',
    })
    const exited = new Promise((resolve) => child.once('exit', resolve))
    try {
      await waitFor(async () => ((await cursorOf(job.id)) >= 4 ? true : undefined), 60_000)
      child.kill('SIGKILL')
      await exited
      stub.setOptions({ latencyMs: 0 })
      const killed = (await findJob(db.pool, job.id))!
      expect(killed.status).toBe('running')
      expect(killed.progress).toMatchObject({ documents: { total: 23 } })
      expect((killed.progress as { cursor: number }).cursor).toBeLessThan(23)

      const rescuer = startWorker({ deps, workerId: 'rescuer', pollIntervalMs: 100, onlyJobId: job.id })
      await rescuer.done
      const finished = (await findJob(db.pool, job.id))!
      expect(finished.status).toBe('succeeded')
      expect(finished.attempts).toBe(2)
      expect(finished.progress).toMatchObject({ documents: { added: 23, done: 23 } })
      const chunks = await chunkSet(db, target.id)
      expect(chunks).toEqual(await chunkSet(db, clean.id))
      const { rows } = await db.pool.query(
        'SELECT count(*)::int AS n FROM documents WHERE collection_id = $1',
        [target.id],
      )
      expect(rows[0].n).toBe(23)
    } finally {
      stub.setOptions({ latencyMs: 0 })
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  }, 120_000)
})
