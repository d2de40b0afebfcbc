import { Gauge, type Registry } from 'prom-client'
import type { Queryable } from '../db/transaction.js'

interface JobQueueStats {
  queued: number
  running: number
  /** Seconds since the oldest queued job was created; null when nothing is queued. */
  oldestQueuedSeconds: number | null
}

/**
 * Read at scrape time rather than tracked in memory, so the numbers are right whichever process
 * (API, worker, CLI) changed the queue. One query on the partial index over unfinished jobs.
 */
async function readJobQueueStats(db: Queryable): Promise<JobQueueStats> {
  const { rows } = await db.query<JobQueueStats>(
    `SELECT count(*) FILTER (WHERE status = 'queued')::int AS queued,
            count(*) FILTER (WHERE status = 'running')::int AS running,
            extract(epoch FROM now() - min(created_at) FILTER (WHERE status = 'queued'))::float8
              AS "oldestQueuedSeconds"
     FROM ingest_jobs WHERE status IN ('queued', 'running')`,
  )
  return rows[0] ?? { queued: 0, running: 0, oldestQueuedSeconds: null }
}

export function registerJobQueueGauges(registry: Registry, db: Queryable): void {
  // prom-client collects all metrics of a scrape concurrently; both gauges share one query per scrape.
  let inFlight: Promise<JobQueueStats> | undefined
  const stats = () => {
    inFlight ??= readJobQueueStats(db).finally(() => {
      inFlight = undefined
    })
    return inFlight
  }

  new Gauge({
    name: 'onbrand_ingest_jobs',
    help: 'Ingest jobs not finished yet, by status (queued, running).',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      try {
        const current = await stats()
        this.set({ status: 'queued' }, current.queued)
        this.set({ status: 'running' }, current.running)
      } catch {
        // Database unreachable: publish no sample rather than a stale one; /readyz reports the cause.
        this.reset()
      }
    },
  })

  new Gauge({
    name: 'onbrand_ingest_oldest_queued_job_age_seconds',
    help: 'Age of the oldest queued ingest job; 0 when nothing is queued.',
    registers: [registry],
    async collect() {
      try {
        this.set((await stats()).oldestQueuedSeconds ?? 0)
      } catch {
        this.reset()
      }
    },
  })
}
