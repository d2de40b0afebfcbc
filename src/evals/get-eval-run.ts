import type pg from 'pg'
import type { ApiKey } from '../auth/api-keys.js'
import { findEvalRun, listEvalRuns, readEvalResults, readReviewerVerdicts } from '../db/eval-runs.js'
import { findEvalSet } from '../db/eval-sets.js'
import { cancelJob, findJob, type JobStatus } from '../db/ingest-jobs.js'
import { findTask } from '../db/tasks.js'
import { AppError } from '../errors.js'
import { type JobCounters, secondsLeft } from '../jobs/job-progress.js'
import type { EvalRunParams } from './eval-run-request.js'
import {
  type BaselineDiff,
  buildReport,
  diffFromBaseline,
  type EvalReport,
  reviewerVerdicts,
} from './report.js'

export interface EvalRunView {
  id: string
  evalSetId: string
  task: string
  jobId: string | null
  status: JobStatus
  progress: (JobCounters & { spentUsd?: number; etaSeconds: number | null }) | null
  error: string | null
  stoppedReason: string | null
  params: EvalRunParams
  createdAt: string
  finishedAt: string | null
  report: EvalReport
  baseline: BaselineDiff | null
}

/** The run if the key may see it: a limited key sees runs of tasks within its collections only. */
async function visibleRun(db: pg.Pool, key: ApiKey | undefined, id: string) {
  const run = await findEvalRun(db, id)
  const set = run ? await findEvalSet(db, run.evalSetId) : undefined
  const visible =
    set && (key?.collections === undefined || (await findTask(db, set.taskName, key.collections)))
  if (!run || !set || !visible) throw new AppError('not_found', `No evaluation run ${id}.`)
  return { run, set }
}

export async function getEvalRun(db: pg.Pool, key: ApiKey | undefined, id: string): Promise<EvalRunView> {
  const { run, set } = await visibleRun(db, key, id)
  const job = run.jobId ? await findJob(db, run.jobId) : undefined
  const params = run.params as unknown as EvalRunParams
  const reviewers = params.judge ? reviewerVerdicts(await readReviewerVerdicts(db, run.id)) : new Map()
  const report = buildReport(params, await readEvalResults(db, run.id), reviewers)
  const baselineRun = run.baselineRunId ? await findEvalRun(db, run.baselineRunId) : undefined
  const baseline = baselineRun
    ? diffFromBaseline(
        report,
        buildReport(
          baselineRun.params as unknown as EvalRunParams,
          await readEvalResults(db, baselineRun.id),
        ),
        baselineRun.id,
      )
    : null
  const counters =
    job && typeof job.progress.total === 'number' ? (job.progress as unknown as JobCounters) : null
  return {
    id: run.id,
    evalSetId: run.evalSetId,
    task: set.taskName,
    jobId: run.jobId,
    status: job?.status ?? 'failed',
    progress: counters
      ? { ...counters, etaSeconds: job?.status === 'running' ? (secondsLeft(counters) ?? null) : null }
      : null,
    error: job?.error ?? (job ? null : 'The job of this run was deleted.'),
    stoppedReason: run.stoppedReason,
    params,
    createdAt: run.createdAt.toISOString(),
    finishedAt: job?.finishedAt?.toISOString() ?? null,
    report,
    baseline,
  }
}

/** Cancel a run: queued, it never starts; running, its worker stops it at its next lease renewal. */
export async function cancelEvalRun(db: pg.Pool, key: ApiKey | undefined, id: string): Promise<EvalRunView> {
  const { run } = await visibleRun(db, key, id)
  if (run.jobId) await cancelJob(db, run.jobId)
  return getEvalRun(db, key, id)
}

export interface EvalRunSummary {
  id: string
  evalSetId: string
  set: { name: string; version: number }
  status: JobStatus
  progress: { done: number; total: number } | null
  stoppedReason: string | null
  arms: EvalRunParams['arms']
  judge: EvalRunParams['judge']
  repetitions: number
  createdAt: string
  finishedAt: string | null
}

/** A task's evaluation runs (of one set, if given), newest first, without their reports. */
export async function listEvalRunsOfTask(
  db: pg.Pool,
  key: ApiKey | undefined,
  filter: { task: string; evalSetId?: string },
  limit: number,
): Promise<EvalRunSummary[]> {
  const task = await findTask(db, filter.task, key?.collections)
  if (!task) throw new AppError('not_found', `No task named ${filter.task}.`)
  const rows = await listEvalRuns(
    db,
    { taskId: task.id, ...(filter.evalSetId ? { evalSetId: filter.evalSetId } : {}) },
    limit,
  )
  return rows.map((row) => {
    const params = row.params as unknown as EvalRunParams
    const counters = row.progress as Partial<JobCounters> | null
    return {
      id: row.id,
      evalSetId: row.evalSetId,
      set: { name: row.setName, version: row.setVersion },
      status: (row.status ?? 'failed') as JobStatus,
      progress:
        typeof counters?.total === 'number' ? { done: counters.done ?? 0, total: counters.total } : null,
      stoppedReason: row.stoppedReason,
      arms: params.arms,
      judge: params.judge,
      repetitions: params.repetitions,
      createdAt: row.createdAt.toISOString(),
      finishedAt: row.finishedAt?.toISOString() ?? null,
    }
  })
}
