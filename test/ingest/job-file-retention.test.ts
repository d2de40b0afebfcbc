import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createIngestJob } from '../../ingest/jobs/create-job.js'
import { startWorker } from '../../ingest/jobs/worker.js'
import { purgeExpiredJobFiles, readJobFiles } from '../../src/db/ingest-jobs.js'
import type { Database } from '../../src/db/pool.js'
import { createTestDatabase } from '../support/test-db.js'
import { ingestDeps, ingestNow, makeCollection, textFile } from './ingest-harness.js'

let db: Database
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(async () => {
  await db.close()
})

async function purgedAt(jobId: string): Promise<Date | null> {
  const { rows } = await db.pool.query<{ purged: Date | null }>(
    'SELECT files_purged_at AS purged FROM ingest_jobs WHERE id = $1',
    [jobId],
  )
  return rows[0]!.purged
}

describe('uploaded files are kept only as long as a job needs them', () => {
  it('a job that succeeded (with or without errors) drops its stored files when it finishes', async () => {
    const collection = await makeCollection(db, 'retention-ok')
    const deps = ingestDeps(db, undefined)
    const clean = await ingestNow(deps, collection, [textFile('voice.md', '# Voice\n\nPlain words.\n')])
    const partial = await ingestNow(deps, collection, [
      textFile('tone.md', '# Tone\n\nWarm.\n'),
      textFile('empty.md', ''),
    ])
    expect([clean.status, partial.status]).toEqual(['succeeded', 'succeeded_with_errors'])
    for (const job of [clean, partial]) {
      expect(await readJobFiles(db.pool, job.id)).toEqual([])
      expect(await purgedAt(job.id)).not.toBeNull()
    }
  })

  it('a failed job keeps its files for a retry until its retention has passed', async () => {
    const collection = await makeCollection(db, 'retention-failed')
    const deps = ingestDeps(db, undefined)
    const failed = await ingestNow(deps, collection, [textFile('empty.md', '')])
    expect(failed.status).toBe('failed')
    expect(await readJobFiles(db.pool, failed.id)).toHaveLength(1)

    expect(await purgeExpiredJobFiles(db.pool, 3_600_000)).toBe(0)
    expect(await readJobFiles(db.pool, failed.id)).toHaveLength(1)

    expect(await purgeExpiredJobFiles(db.pool, 0)).toBeGreaterThanOrEqual(1)
    expect(await readJobFiles(db.pool, failed.id)).toEqual([])
    expect(await purgedAt(failed.id)).not.toBeNull()
  })

  it('the worker sweeps files of finished jobs past INGEST_FILE_RETENTION_HOURS and never those of queued jobs', async () => {
    const collection = await makeCollection(db, 'retention-sweep')
    const deps = ingestDeps(db, undefined, { INGEST_FILE_RETENTION_HOURS: '0' })
    const failed = await ingestNow(deps, collection, [textFile('empty.md', '')])
    const other = await makeCollection(db, 'retention-sweep-queued')
    const queued = await createIngestJob(deps, {
      collection: other,
      mode: 'upsert',
      files: [textFile('later.md', '# Later\n\nSoon.\n')],
    })
    // A worker that may only take a job that does not exist: it sweeps, claims nothing, and stops.
    const worker = startWorker({
      deps,
      onlyJobId: '00000000-0000-4000-8000-000000000000',
      pollIntervalMs: 10,
    })
    await worker.done
    expect(await readJobFiles(db.pool, failed.id)).toEqual([])
    expect(await readJobFiles(db.pool, queued.id)).toHaveLength(1)
  })
})
