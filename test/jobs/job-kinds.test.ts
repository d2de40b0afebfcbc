import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createIngestJob } from '../../ingest/jobs/create-job.js'
import { startWorker } from '../../ingest/jobs/worker.js'
import { cancelJob, claimJob, findJob, insertKindJob } from '../../src/db/ingest-jobs.js'
import type { Database } from '../../src/db/pool.js'
import type { JobHandler } from '../../src/jobs/job-handler.js'
import { type JobCounters, secondsLeft, startAttempt } from '../../src/jobs/job-progress.js'
import { JobInputError, runKindJob } from '../../src/jobs/run-kind-job.js'
import { sleep } from '../../src/lib/sleep.js'
import { createLogger } from '../../src/logger.js'
import { ingestDeps, makeCollection, textFile } from '../ingest/ingest-harness.js'
import { createTestDatabase } from '../support/test-db.js'

let db: Database
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(async () => {
  await db.close()
})

const logger = createLogger('silent')

/** Poll until `probe` answers something; vitest's timeout ends a wait that never does. */
async function waitFor<T>(probe: () => Promise<T | undefined>): Promise<T> {
  let value = await probe()
  while (value === undefined) {
    await sleep(20)
    value = await probe()
  }
  return value
}

/** The job's worker died: its lease runs out, and a new worker (running `seen`'s handler) takes it to the end. */
async function rescue(jobId: string, seen: string[]): Promise<void> {
  await db.pool.query("UPDATE ingest_jobs SET locked_until = now() - interval '1 second' WHERE id = $1", [
    jobId,
  ])
  const rescuer = startWorker({
    deps: ingestDeps(db, undefined),
    handlers: { counting: countingHandler(seen) },
    pollIntervalMs: 20,
    onlyJobId: jobId,
  })
  await rescuer.done
}

/**
 * A kind of job that works through `options.items` numbered units, one per `delayMs`, saving its
 * counters after each; `seen` records every unit it does, so a test sees whether a resumed run repeats any.
 */
function countingHandler(seen: string[], delayMs = 0, afterUnit?: (done: number) => void): JobHandler {
  return (job, context) =>
    runKindJob({ db: db.pool, logger }, job, context, async (io) => {
      const items = Number(job.options.items)
      if (!Number.isInteger(items) || items < 0) throw new JobInputError('options.items must be a count')
      const counters: JobCounters = startAttempt(job.progress, items, 'items')
      counters.phase = 'counting'
      for (let unit = counters.done; unit < items; unit++) {
        context.signal.throwIfAborted()
        if (delayMs > 0) await sleep(delayMs)
        seen.push(`${job.id}:${unit}`)
        counters.done = unit + 1
        await io.save({ ...counters })
        afterUnit?.(counters.done)
      }
      return { status: 'succeeded' }
    })
}

describe('job kinds on the one queue', () => {
  it('runs a job of a registered kind through its handler, and leaves kinds without a handler queued', async () => {
    const seen: string[] = []
    const counted = await insertKindJob(db.pool, { kind: 'counting', options: { items: 3 } })
    const unknown = await insertKindJob(db.pool, { kind: 'nobody-runs-this', options: {} })
    const worker = startWorker({
      deps: ingestDeps(db, undefined),
      handlers: { counting: countingHandler(seen) },
      pollIntervalMs: 20,
      autoBackfill: false,
    })
    try {
      const done = await waitFor(async () => {
        const job = await findJob(db.pool, counted.id)
        return job?.status === 'succeeded' ? job : undefined
      })
      expect(done.kind).toBe('counting')
      expect(done.progress).toMatchObject({ phase: 'counting', unit: 'items', total: 3, done: 3 })
      expect(seen).toEqual([0, 1, 2].map((unit) => `${counted.id}:${unit}`))
      expect((await findJob(db.pool, unknown.id))?.status).toBe('queued')
    } finally {
      await worker.stop()
      await cancelJob(db.pool, unknown.id)
    }
  })

  it('runs ingest jobs beside other kinds: ingest is always a handler of the worker', async () => {
    const deps = ingestDeps(db, undefined)
    const collection = await makeCollection(db, 'kinds-ingest')
    const ingest = await createIngestJob(deps, {
      collection,
      mode: 'upsert',
      files: [textFile('voice.md', '# Voice\n\nWrite plainly.\n')],
    })
    const counted = await insertKindJob(db.pool, { kind: 'counting', options: { items: 2 } })
    const worker = startWorker({
      deps,
      handlers: { counting: countingHandler([]) },
      pollIntervalMs: 20,
      autoBackfill: false,
    })
    try {
      for (const id of [ingest.id, counted.id]) {
        await waitFor(async () => ((await findJob(db.pool, id))?.status === 'succeeded' ? true : undefined))
      }
    } finally {
      await worker.stop()
    }
  })

  it('fails a job whose handler rejects its input, with the message the admin can act on', async () => {
    const job = await insertKindJob(db.pool, { kind: 'counting', options: { items: 'many' } })
    const worker = startWorker({
      deps: ingestDeps(db, undefined),
      handlers: { counting: countingHandler([]) },
      pollIntervalMs: 20,
      onlyJobId: job.id,
    })
    await worker.done
    const failed = await findJob(db.pool, job.id)
    expect(failed).toMatchObject({ status: 'failed', error: 'options.items must be a count' })
  })

  it('does not claim a job resting until run_after', async () => {
    const job = await insertKindJob(db.pool, { kind: 'counting', options: { items: 1 } })
    await db.pool.query("UPDATE ingest_jobs SET run_after = now() + interval '1 hour' WHERE id = $1", [
      job.id,
    ])
    expect(await claimJob(db.pool, 'w', 60_000, job.id, ['counting'])).toBeUndefined()
    await db.pool.query("UPDATE ingest_jobs SET run_after = now() - interval '1 second' WHERE id = $1", [
      job.id,
    ])
    expect((await claimJob(db.pool, 'w', 60_000, job.id, ['counting']))?.id).toBe(job.id)
    // Nor a job of a kind the worker did not ask for.
    const other = await insertKindJob(db.pool, { kind: 'other-kind', options: {} })
    expect(await claimJob(db.pool, 'w', 60_000, other.id, ['counting'])).toBeUndefined()
    await cancelJob(db.pool, other.id)
  })

  it('cancels a queued job at once, and a running one at its next lease renewal', async () => {
    const queued = await insertKindJob(db.pool, { kind: 'counting', options: { items: 1 } })
    expect(await cancelJob(db.pool, queued.id)).toMatchObject({
      status: 'cancelled',
      error: 'Cancelled on request.',
    })
    expect(await claimJob(db.pool, 'w', 60_000, queued.id, ['counting'])).toBeUndefined()

    const seen: string[] = []
    const running = await insertKindJob(db.pool, { kind: 'counting', options: { items: 10_000 } })
    const worker = startWorker({
      deps: ingestDeps(db, undefined),
      handlers: { counting: countingHandler(seen, 5) },
      pollIntervalMs: 20,
      leaseMs: 1000,
      onlyJobId: running.id,
    })
    await waitFor(async () => (seen.length >= 3 ? true : undefined))
    const marked = await cancelJob(db.pool, running.id)
    expect(marked).toMatchObject({ status: 'running' })
    expect(marked?.cancelRequestedAt).toBeInstanceOf(Date)
    await worker.done
    const cancelled = (await findJob(db.pool, running.id))!
    expect(cancelled).toMatchObject({ status: 'cancelled', error: 'Cancelled on request.', lockedBy: null })
    expect(seen.length).toBeLessThan(10_000)
    // A finished job stays as it was.
    expect((await cancelJob(db.pool, running.id))?.finishedAt).toEqual(cancelled.finishedAt)
  })

  it('resumes a job whose worker died without repeating the units it had finished', async () => {
    const seen: string[] = []
    const job = await insertKindJob(db.pool, { kind: 'counting', options: { items: 8 } })
    const claimed = (await claimJob(db.pool, 'dies', 60_000, job.id, ['counting']))!
    const dies = new AbortController()
    const outcome = await countingHandler(seen, 0, (done) => {
      if (done === 3) dies.abort()
    })(claimed, { workerId: 'dies', signal: dies.signal })
    expect(outcome).toBe('stopped')
    // The dead worker left the job running.
    await rescue(job.id, seen)
    const finished = (await findJob(db.pool, job.id))!
    expect(finished).toMatchObject({ status: 'succeeded', attempts: 2 })
    expect(seen).toEqual([...Array(8).keys()].map((unit) => `${job.id}:${unit}`))
    expect(finished.progress).toMatchObject({ done: 8, attempt: { doneAtStart: 3 } })
  })

  it('a cancel pending when the worker died ends the job without running it again', async () => {
    const seen: string[] = []
    const job = await insertKindJob(db.pool, { kind: 'counting', options: { items: 5 } })
    await claimJob(db.pool, 'dies', 60_000, job.id, ['counting'])
    await db.pool.query('UPDATE ingest_jobs SET cancel_requested_at = now() WHERE id = $1', [job.id])
    await rescue(job.id, seen)
    expect((await findJob(db.pool, job.id))?.status).toBe('cancelled')
    expect(seen).toEqual([])
  })
})

describe('shared progress counters', () => {
  const start = Date.parse('2026-01-01T00:00:00Z')

  it('keeps what an earlier attempt finished and measures the ETA at this attempt’s pace', () => {
    const resumed = startAttempt(
      { phase: 'running', unit: 'results', total: 100, done: 40 },
      100,
      'results',
      start,
    )
    expect(resumed).toMatchObject({ done: 40, attempt: { doneAtStart: 40 } })
    expect(secondsLeft(resumed, start + 10_000)).toBeUndefined()
    // 10 more in 20 s: 2 s each, 50 left → 100 s.
    expect(secondsLeft({ ...resumed, done: 50 }, start + 20_000)).toBe(100)
    expect(secondsLeft({ ...resumed, done: 100 }, start + 20_000)).toBe(0)
  })

  it('starts from nothing when the saved progress is not counters', () => {
    expect(startAttempt({ cursor: 3 }, 5, 'items', start)).toMatchObject({
      done: 0,
      total: 5,
      phase: 'running',
    })
    expect(startAttempt(undefined, 5, 'items', start).attempt.startedAt).toBe('2026-01-01T00:00:00.000Z')
  })
})
