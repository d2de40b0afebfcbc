import { Gauge, type Registry } from 'prom-client'
import { type JobQueueStats, readJobQueueStats } from '../db/ingest-jobs.js'
import type { Queryable } from '../db/transaction.js'

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
