import type pg from 'pg'
import type { ApiKey } from '../auth/api-keys.js'
import { getDataset } from '../datasets/build-dataset.js'
import {
  type FineTuneRow,
  findFineTune,
  findFineTunes,
  insertFineTune,
  updateFineTune,
} from '../db/fine-tunes.js'
import { cancelJob, insertKindJob } from '../db/ingest-jobs.js'
import { findTask } from '../db/tasks.js'
import { withTransaction } from '../db/transaction.js'
import { AppError } from '../errors.js'
import { type ModelRegistry, PROVIDER_SETTINGS_HINT } from '../generation/model-registry.js'
import { type CreateFineTuneRequest, DEFAULT_STAGED_SHARE } from './fine-tune-request.js'
import { createFineTuningClient, type FineTuningClient } from './fine-tuning-client.js'

/** The job kind fine-tunes are followed under (services.jobHandlers). */
export const FINE_TUNE_JOB_KIND = 'fine_tune'

/** A base model that stops being served (or trained) sooner than this is not worth a new fine-tune. */
export const MIN_DAYS_BEFORE_SHUTDOWN = 90

const DAY_MS = 86_400_000

export type FineTuneView = Omit<
  FineTuneRow,
  | 'taskId'
  | 'taskName'
  | 'createdAt'
  | 'updatedAt'
  | 'finishedAt'
  | 'nextPollAt'
  | 'polls'
  | 'consecutiveErrors'
> & {
  task: string
  createdAt: string
  updatedAt: string
  finishedAt: string | null
  nextPollAt: string | null
}

export function fineTuneView(row: FineTuneRow): FineTuneView {
  const { taskId: _id, taskName, polls: _p, consecutiveErrors: _c, ...rest } = row
  return {
    ...rest,
    task: taskName,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    finishedAt: row.finishedAt?.toISOString() ?? null,
    nextPollAt: row.nextPollAt?.toISOString() ?? null,
  }
}

export interface FineTuneEstimate {
  tokensPerEpoch: number
  epochs: number
  trainingPricePer1M: number
  costUsd: number
}

/**
 * Check a fine-tune request and queue it: every refusal (an invalid dataset, a base model close to its
 * shutdown, an estimate over the budget or unknown) comes before anything is uploaded.
 */
export async function createFineTune(
  db: pg.Pool,
  models: ModelRegistry,
  key: ApiKey | undefined,
  request: CreateFineTuneRequest,
  now: () => number,
): Promise<FineTuneView> {
  const dataset = await getDataset(db, key, request.datasetId)
  await models.ensure([request.baseModel])
  const base = models.get(request.baseModel)
  if (!base) {
    throw new AppError('validation_failed', `Unknown base model ${request.baseModel}: register it first.`, {
      errors: [{ path: 'baseModel', message: `no model ${request.baseModel} in the registry` }],
    })
  }
  if (dataset.status === 'invalid') {
    throw new AppError(
      'conflict',
      `Dataset ${dataset.id} is not valid (${String(dataset.report.errorCount)} errors): fix the generations and build it again.`,
    )
  }
  if (base.shutdownDate !== null) {
    const days = Math.floor((Date.parse(`${base.shutdownDate}T00:00:00Z`) - now()) / DAY_MS)
    if (days < MIN_DAYS_BEFORE_SHUTDOWN) {
      throw new AppError(
        'conflict',
        `${base.id} shuts down on ${base.shutdownDate}, ${days} days from now (under ${MIN_DAYS_BEFORE_SHUTDOWN}): a model trained on it would not pay back. Pick another base model.`,
      )
    }
  }
  const estimate = estimateTraining(dataset.report, request, base.trainingPricePer1M)
  if (estimate === undefined) {
    throw new AppError(
      'conflict',
      `${base.id} has no training price, so the cost cannot be checked against maxBudgetUsd: set trainingPricePer1M (PATCH /v1/model-registry/${encodeURIComponent(base.id)}).`,
    )
  }
  if (estimate.costUsd > request.maxBudgetUsd) {
    throw new AppError(
      'conflict',
      `The estimate is $${estimate.costUsd.toFixed(2)} (${estimate.tokensPerEpoch} tokens × ${estimate.epochs} epochs at $${estimate.trainingPricePer1M} per 1M), over maxBudgetUsd $${request.maxBudgetUsd}.`,
    )
  }
  if (!models.resolve(base.id)) {
    throw new AppError(
      'provider_not_configured',
      `No endpoint is configured for ${base.id}, so it cannot be fine-tuned. ${PROVIDER_SETTINGS_HINT}`,
    )
  }
  const task = await findTask(db, dataset.task)
  if (!task) throw new AppError('not_found', `No task named ${dataset.task}.`)
  const id = await withTransaction(db, async (client) => {
    const fineTuneId = await insertFineTune(client, {
      datasetId: dataset.id,
      taskId: task.id,
      baseModel: base.id,
      suffix: request.suffix ?? null,
      hyperparameters: request.hyperparameters ?? {},
      maxBudgetUsd: request.maxBudgetUsd,
      estimatedCostUsd: estimate.costUsd,
      share: request.share ?? DEFAULT_STAGED_SHARE,
      createdBy: key?.id ?? null,
    })
    const job = await insertKindJob(client, {
      kind: FINE_TUNE_JOB_KIND,
      options: { fineTuneId },
      createdBy: key?.id ?? null,
    })
    await updateFineTune(client, fineTuneId, { jobId: job.id })
    return fineTuneId
  })
  return fineTuneView((await findFineTune(db, id))!)
}

/**
 * Tokens the provider will bill: the dataset's training tokens (its estimate, which counted them for
 * its base model) times the epochs asked for, or the dataset's default. Undefined without a price.
 */
export function estimateTraining(
  report: Record<string, unknown>,
  request: Pick<CreateFineTuneRequest, 'hyperparameters'>,
  pricePer1M: number | null,
): FineTuneEstimate | undefined {
  if (pricePer1M === null) return undefined
  const estimate = report.estimate as { billedTokens: number; epochs: number }
  const perEpoch = estimate.epochs > 0 ? estimate.billedTokens / estimate.epochs : 0
  const asked = request.hyperparameters?.n_epochs
  const epochs = typeof asked === 'number' ? asked : estimate.epochs
  const trainedTokens = Math.round(perEpoch * epochs)
  return {
    tokensPerEpoch: Math.round(perEpoch),
    epochs,
    trainingPricePer1M: pricePer1M,
    costUsd: Math.round(((trainedTokens * pricePer1M) / 1e6) * 1e6) / 1e6,
  }
}

/** A fine-tune, if the key may see it (a key limited to some collections sees only those it started). */
export async function getFineTune(db: pg.Pool, key: ApiKey | undefined, id: string): Promise<FineTuneRow> {
  const row = await findFineTune(db, id)
  if (!row || (key?.collections !== undefined && row.createdBy !== key.id))
    throw new AppError('not_found', `No fine-tune ${id}.`)
  return row
}

export async function listFineTunes(
  db: pg.Pool,
  key: ApiKey | undefined,
  taskName: string | undefined,
): Promise<FineTuneView[]> {
  const rows = await findFineTunes(db, {
    ...(taskName !== undefined ? { taskName } : {}),
    ...(key?.collections !== undefined ? { createdBy: key.id } : {}),
    limit: 50,
  })
  return rows.map(fineTuneView)
}

/**
 * Cancel a fine-tune: the provider's job (when there is one) and the job following it. A finished one is
 * a 409. The provider is told at once, so a job resting between looks is not left training.
 */
export async function cancelFineTune(
  db: pg.Pool,
  models: ModelRegistry,
  key: ApiKey | undefined,
  id: string,
  clients: (
    settings: Parameters<typeof createFineTuningClient>[0],
  ) => FineTuningClient = createFineTuningClient,
): Promise<FineTuneView> {
  const row = await getFineTune(db, key, id)
  if (['succeeded', 'failed', 'cancelled'].includes(row.status))
    throw new AppError(
      'conflict',
      `Fine-tune ${id} has already ${row.status === 'cancelled' ? 'been cancelled' : row.status}.`,
    )
  if (row.providerJobId !== null) {
    await models.ensure([row.baseModel])
    const settings = models.resolve(row.baseModel)
    if (!settings)
      throw new AppError(
        'provider_not_configured',
        `No endpoint is configured for ${row.baseModel}. ${PROVIDER_SETTINGS_HINT}`,
      )
    try {
      await clients(settings).cancelJob(row.providerJobId)
    } catch {
      throw new AppError(
        'upstream_error',
        `The provider did not accept the cancel of job ${row.providerJobId}; try again.`,
      )
    }
  }
  if (row.jobId !== null) await cancelJob(db, row.jobId)
  await updateFineTune(db, id, { status: 'cancelled', error: 'Cancelled on request.', finished: true })
  return fineTuneView((await findFineTune(db, id))!)
}
