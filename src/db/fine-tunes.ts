import type { Queryable } from './transaction.js'

export type FineTuneStatus =
  | 'pending'
  | 'uploading'
  | 'validating_files'
  | 'queued'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'cancelled'

export const FINISHED_FINE_TUNE: readonly FineTuneStatus[] = ['succeeded', 'failed', 'cancelled']

export interface FineTuneEvent {
  id: string
  at: string
  level: string
  message: string
}

export interface FineTuneCheckpoint {
  step: number
  trainLoss: number | null
  validLoss: number | null
  at: string
}

export interface FineTuneRow {
  id: string
  jobId: string | null
  datasetId: string
  taskId: number
  taskName: string
  baseModel: string
  suffix: string | null
  hyperparameters: Record<string, unknown>
  maxBudgetUsd: number
  estimatedCostUsd: number | null
  share: number
  status: FineTuneStatus
  trainingFileId: string | null
  validationFileId: string | null
  providerJobId: string | null
  fineTunedModel: string | null
  trainedTokens: number | null
  events: FineTuneEvent[]
  checkpoints: FineTuneCheckpoint[]
  error: string | null
  stagedVersion: number | null
  polls: number
  consecutiveErrors: number
  nextPollAt: Date | null
  createdBy: string | null
  createdAt: Date
  updatedAt: Date
  finishedAt: Date | null
}

const COLUMNS = `f.id, f.job_id AS "jobId", f.dataset_id AS "datasetId", f.task_id AS "taskId", t.name AS "taskName",
  f.base_model AS "baseModel", f.suffix, f.hyperparameters, f.max_budget_usd::float8 AS "maxBudgetUsd",
  f.estimated_cost_usd::float8 AS "estimatedCostUsd", f.share, f.status, f.training_file_id AS "trainingFileId",
  f.validation_file_id AS "validationFileId", f.provider_job_id AS "providerJobId",
  f.fine_tuned_model AS "fineTunedModel", f.trained_tokens::float8 AS "trainedTokens", f.events, f.checkpoints,
  f.error, f.staged_version AS "stagedVersion", f.polls, f.consecutive_errors AS "consecutiveErrors",
  f.next_poll_at AS "nextPollAt", f.created_by AS "createdBy", f.created_at AS "createdAt",
  f.updated_at AS "updatedAt", f.finished_at AS "finishedAt"`

export async function insertFineTune(
  db: Queryable,
  input: {
    datasetId: string
    taskId: number
    baseModel: string
    suffix: string | null
    hyperparameters: Record<string, unknown>
    maxBudgetUsd: number
    estimatedCostUsd: number | null
    share: number
    createdBy: string | null
  },
): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO fine_tunes (dataset_id, task_id, base_model, suffix, hyperparameters, max_budget_usd,
       estimated_cost_usd, share, created_by)
     VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9) RETURNING id`,
    [
      input.datasetId,
      input.taskId,
      input.baseModel,
      input.suffix,
      JSON.stringify(input.hyperparameters),
      input.maxBudgetUsd,
      input.estimatedCostUsd,
      input.share,
      input.createdBy,
    ],
  )
  return rows[0]!.id
}

export async function findFineTune(db: Queryable, id: string): Promise<FineTuneRow | undefined> {
  const { rows } = await db.query<FineTuneRow>(
    `SELECT ${COLUMNS} FROM fine_tunes f JOIN tasks t ON t.id = f.task_id WHERE f.id = $1`,
    [id],
  )
  return rows[0]
}

export async function findFineTunes(
  db: Queryable,
  filter: { taskName?: string; createdBy?: string; limit: number },
): Promise<FineTuneRow[]> {
  const { rows } = await db.query<FineTuneRow>(
    `SELECT ${COLUMNS} FROM fine_tunes f JOIN tasks t ON t.id = f.task_id
     WHERE ($1::text IS NULL OR t.name = $1) AND ($2::text IS NULL OR f.created_by = $2)
     ORDER BY f.created_at DESC, f.id LIMIT $3`,
    [filter.taskName ?? null, filter.createdBy ?? null, filter.limit],
  )
  return rows
}

/** The fields a follow-up changes. */
export interface FineTuneUpdate {
  jobId?: string
  status?: FineTuneStatus
  trainingFileId?: string
  validationFileId?: string | null
  providerJobId?: string
  fineTunedModel?: string
  trainedTokens?: number | null
  events?: FineTuneEvent[]
  checkpoints?: FineTuneCheckpoint[]
  error?: string | null
  stagedVersion?: number
  polls?: number
  consecutiveErrors?: number
  nextPollAt?: Date | null
  finished?: boolean
}

const UPDATE_COLUMNS: Record<Exclude<keyof FineTuneUpdate, 'finished'>, [string, string?]> = {
  jobId: ['job_id'],
  status: ['status'],
  trainingFileId: ['training_file_id'],
  validationFileId: ['validation_file_id'],
  providerJobId: ['provider_job_id'],
  fineTunedModel: ['fine_tuned_model'],
  trainedTokens: ['trained_tokens'],
  events: ['events', 'jsonb'],
  checkpoints: ['checkpoints', 'jsonb'],
  error: ['error'],
  stagedVersion: ['staged_version'],
  polls: ['polls'],
  consecutiveErrors: ['consecutive_errors'],
  nextPollAt: ['next_poll_at'],
}

export async function updateFineTune(db: Queryable, id: string, update: FineTuneUpdate): Promise<void> {
  const sets: string[] = []
  const values: unknown[] = [id]
  for (const [field, [column, cast]] of Object.entries(UPDATE_COLUMNS) as [
    keyof typeof UPDATE_COLUMNS,
    [string, string?],
  ][]) {
    const value = update[field]
    if (value === undefined) continue
    values.push(cast === 'jsonb' ? JSON.stringify(value) : value)
    sets.push(`${column} = $${values.length}${cast ? `::${cast}` : ''}`)
  }
  if (update.finished) sets.push('finished_at = coalesce(finished_at, now())')
  sets.push('updated_at = now()')
  await db.query(`UPDATE fine_tunes SET ${sets.join(', ')} WHERE id = $1`, values)
}
