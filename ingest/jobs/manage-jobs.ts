import type pg from 'pg'
import { type CollectionAllowlist, canUseCollection } from '../../src/collections/access.js'
import type { CollectionRow } from '../../src/db/collections.js'
import { findCollectionById } from '../../src/db/collections.js'
import {
  cancelJob,
  dismissJob,
  FINISHED_STATUSES,
  findJob,
  type IngestJobRow,
  listCollectionJobs,
  retryJob,
} from '../../src/db/ingest-jobs.js'
import type { Queryable } from '../../src/db/transaction.js'
import { AppError } from '../../src/errors.js'
import { type JobView, jobView } from './submit-ingest.js'

/** An ingest job the viewer may act on, with its collection's name; 404 otherwise (as if absent). */
async function visibleJob(
  db: Queryable,
  id: string,
  viewer: CollectionAllowlist,
): Promise<{ job: IngestJobRow; collection: string }> {
  const job = await findJob(db, id)
  const collection =
    job && job.collectionId !== null ? await findCollectionById(db, job.collectionId) : undefined
  if (job?.kind !== 'ingest' || !collection || !canUseCollection(viewer, collection.name))
    throw new AppError('not_found', `No ingest job with id ${id}.`)
  return { job, collection: collection.name }
}

const finished = (job: IngestJobRow) => (FINISHED_STATUSES as readonly string[]).includes(job.status)

/** Cancel a queued job at once, or ask a running one to stop at its next boundary. */
export async function cancelIngestJob(
  db: Queryable,
  id: string,
  viewer: CollectionAllowlist,
): Promise<JobView> {
  const { job, collection } = await visibleJob(db, id, viewer)
  if (finished(job)) throw new AppError('conflict', `The job has already finished (${job.status}).`)
  return jobView((await cancelJob(db, id)) ?? job, collection)
}

/** Hide a finished job from the collection's list: its problems have been read. */
export async function dismissIngestJob(
  db: Queryable,
  id: string,
  viewer: CollectionAllowlist,
): Promise<JobView> {
  const { job, collection } = await visibleJob(db, id, viewer)
  if (!finished(job))
    throw new AppError('conflict', `The job is still ${job.status}: cancel it or wait for it to finish.`)
  return jobView((await dismissJob(db, id)) ?? job, collection)
}

/** Queue a failed or cancelled job again with its stored files; the new job's view. */
export async function retryIngestJob(
  db: pg.Pool,
  id: string,
  viewer: CollectionAllowlist & { id?: string },
): Promise<JobView> {
  const { collection } = await visibleJob(db, id, viewer)
  const outcome = await retryJob(db, id, viewer.id ?? null)
  if ('refused' in outcome) {
    if (outcome.refused === 'gone') throw new AppError('not_found', `No ingest job with id ${id}.`)
    throw new AppError('conflict', `This job cannot be retried. ${outcome.refused}`)
  }
  return jobView(outcome.job, collection)
}

/** A collection's ingest jobs, newest first; dismissed ones only when asked for. */
export async function listIngestJobs(
  db: Queryable,
  collection: CollectionRow,
  opts: { includeDismissed: boolean; limit: number },
): Promise<JobView[]> {
  return (await listCollectionJobs(db, collection.id, opts)).map((job) => jobView(job, collection.name))
}
