import type { IngestJob } from '../types.js'

/** How long a job that succeeded without a problem stays on the collection page. */
const SUCCESS_SHOWN_MS = 24 * 60 * 60 * 1000

/**
 * The ids of the jobs a collection page shows, newest first, from the server's list of jobs nobody has
 * dismissed: every job still queued or running, every job with a problem (failed, cancelled, or with
 * rejected files or rows) until someone dismisses it, and clean successes for a day.
 */
export function shownJobs(jobs: IngestJob[], now = Date.now()): string[] {
  return jobs
    .filter((job) => {
      if (job.status !== 'succeeded' || job.errors.length > 0) return true
      const finished = job.finishedAt ? Date.parse(job.finishedAt) : now
      return now - finished < SUCCESS_SHOWN_MS
    })
    .map((job) => job.id)
}
