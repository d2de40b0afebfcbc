import type { Logger } from 'pino'
import { exportLines } from '../datasets/export-dataset.js'
import {
  type FineTuneCheckpoint,
  type FineTuneEvent,
  type FineTuneRow,
  type FineTuneStatus,
  findFineTune,
  updateFineTune,
} from '../db/fine-tunes.js'
import { findJob, finishJob, type IngestJobRow, rescheduleJob } from '../db/ingest-jobs.js'
import { findModelRow, updateModelRow } from '../db/models.js'
import { isDatabaseUnavailable } from '../db/pg-errors.js'
import type { Queryable } from '../db/transaction.js'
import type { ModelRegistry, ModelSettings } from '../generation/model-registry.js'
import type { JobHandler, JobOutcome } from '../jobs/job-handler.js'
import { type Metrics, observeJobFinished } from '../observability/metrics.js'
import { type FineTuningClient, FineTuningHttpError, type ProviderJob } from './fine-tuning-client.js'
import { registerModel } from './manage-models.js'
import { stageModel } from './stage-model.js'

export interface FollowDeps {
  db: import('pg').Pool
  models: ModelRegistry
  clients: (settings: ModelSettings) => FineTuningClient
  logger: Logger
  metrics?: Metrics
  /** First rest between looks at a running job, and the longest (the rest doubles while nothing changes). */
  pollMs: number
  maxPollMs: number
}

/** Provider errors in a row (unreachable, 5xx, 429) after which the fine-tune is failed. */
const MAX_CONSECUTIVE_ERRORS = 20
const KEPT_EVENTS = 50

interface FollowProgress {
  delayMs?: number
  status?: string
}

type Step =
  | { rest: number; progress: FollowProgress }
  | { finish: 'succeeded' | 'failed' | 'cancelled'; error?: string }

/**
 * The `fine_tune` job: upload the dataset, create the provider's job, then look at it (status, events,
 * checkpoints' losses) and rest, doubling the rest while nothing changes. Each claim does one look, so a
 * training of hours holds no worker, and a worker that stops leaves the state here for the next one.
 */
export function fineTuneHandler(deps: FollowDeps): JobHandler {
  return async (job, context) => {
    const id = String(job.options.fineTuneId)
    let step: Step
    try {
      step = await followOnce(deps, job, id, context.signal)
    } catch (error) {
      if (context.signal.aborted) return 'stopped'
      if (isDatabaseUnavailable(error)) return 'interrupted'
      deps.logger.error(
        { err: error, jobId: job.id, fineTuneId: id },
        'following the fine-tune failed unexpectedly',
      )
      step = {
        finish: 'failed',
        error: 'Following the fine-tune failed unexpectedly; the worker log has the details.',
      }
      await updateFineTune(deps.db, id, {
        status: 'failed',
        error: step.error ?? null,
        finished: true,
      }).catch(() => {})
    }
    return endStep(deps, job, context.workerId, step)
  }
}

async function endStep(
  deps: FollowDeps,
  job: IngestJobRow,
  workerId: string,
  step: Step,
): Promise<JobOutcome> {
  if ('rest' in step) {
    const fineTuneId = String(job.options.fineTuneId)
    await updateFineTune(deps.db, fineTuneId, { nextPollAt: new Date(Date.now() + step.rest) })
    if (await rescheduleJob(deps.db, job.id, workerId, step.rest, step.progress)) return 'rescheduled'
    // A cancel came in while we looked: the next claim (or the cancel itself) ends it.
    return (await findJob(deps.db, job.id))?.status === 'running' ? 'stopped' : 'lost'
  }
  const ending = { status: step.finish, ...(step.error ? { error: step.error } : {}) }
  if (!(await finishJob(deps.db, job.id, workerId, ending))) return 'lost'
  observeJobFinished(deps.metrics, { kind: job.kind, status: step.finish })
  return step.finish
}

async function followOnce(
  deps: FollowDeps,
  job: IngestJobRow,
  id: string,
  signal: AbortSignal,
): Promise<Step> {
  let row = await findFineTune(deps.db, id)
  if (!row) return { finish: 'failed', error: 'The fine-tune of this job no longer exists.' }
  if (row.status === 'succeeded' || row.status === 'failed' || row.status === 'cancelled')
    return { finish: row.status, ...(row.error ? { error: row.error } : {}) }
  await deps.models.ensure([row.baseModel])
  const settings = deps.models.resolve(row.baseModel)
  if (!settings) return fail(deps.db, row, `No endpoint is configured for ${row.baseModel}.`)
  const client = deps.clients(settings)
  const progress = job.progress as FollowProgress
  try {
    if (row.providerJobId === null) {
      row = await startProviderJob(deps.db, client, row, signal)
      const latest = await findJob(deps.db, job.id)
      if (latest?.cancelRequestedAt) {
        await client.cancelJob(row.providerJobId!, signal)
        await updateFineTune(deps.db, id, {
          status: 'cancelled',
          error: 'Cancelled on request.',
          finished: true,
        })
        return { finish: 'cancelled', error: 'Cancelled on request.' }
      }
    }
    const providerJob = await client.getJob(row.providerJobId!, signal)
    const events = mergeEvents(row.events, await client.listEvents(row.providerJobId!, signal))
    const checkpoints = (await client.listCheckpoints(row.providerJobId!, signal))
      .map(
        (c): FineTuneCheckpoint => ({
          step: c.step,
          trainLoss: c.trainLoss,
          validLoss: c.validLoss,
          at: new Date(c.createdAt * 1000).toISOString(),
        }),
      )
      .sort((a, b) => a.step - b.step)
    const status = providerStatus(providerJob.status)
    await updateFineTune(deps.db, id, {
      // `succeeded` is written by succeed() together with the model and the staged version, so a client
      // never reads a fine-tune that succeeded without its model; until then it is still running.
      status: status === 'succeeded' ? 'running' : status,
      events,
      checkpoints,
      trainedTokens: providerJob.trainedTokens,
      polls: row.polls + 1,
      consecutiveErrors: 0,
    })
    if (status === 'succeeded') return await succeed(deps, { ...row, events }, providerJob)
    if (status === 'failed') {
      const reason = providerJob.error
        ? `${providerJob.error.code ?? 'error'}: ${providerJob.error.message ?? ''}`.trim()
        : 'The provider failed the job without a reason.'
      return fail(deps.db, row, `The provider's job ${providerJob.id} failed: ${reason}`)
    }
    if (status === 'cancelled') {
      await updateFineTune(deps.db, id, {
        status: 'cancelled',
        error: 'Cancelled at the provider.',
        finished: true,
      })
      return { finish: 'cancelled', error: 'Cancelled at the provider.' }
    }
    const changed = progress.status !== status || events.length !== row.events.length
    const rest = changed ? deps.pollMs : Math.min(deps.maxPollMs, (progress.delayMs ?? deps.pollMs) * 2)
    return { rest, progress: { delayMs: rest, status } }
  } catch (error) {
    if (!(error instanceof FineTuningHttpError) || signal.aborted) throw error
    if (!error.transient) return fail(deps.db, row, `The provider refused: ${error.message}`)
    const errors = row.consecutiveErrors + 1
    await updateFineTune(deps.db, id, { consecutiveErrors: errors })
    if (errors >= MAX_CONSECUTIVE_ERRORS)
      return fail(deps.db, row, `The provider failed ${errors} times in a row; last: ${error.message}`)
    deps.logger.warn(
      { fineTuneId: id, status: error.status },
      'the fine-tuning endpoint failed; trying again later',
    )
    const rest = Math.min(deps.maxPollMs, deps.pollMs * 2 ** Math.min(errors, 10))
    return { rest, progress: { ...progress, delayMs: rest } }
  }
}

/** Upload what is not uploaded yet and create the job, saving each id as soon as the provider gives it. */
async function startProviderJob(
  db: Queryable,
  client: FineTuningClient,
  row: FineTuneRow,
  signal: AbortSignal,
): Promise<FineTuneRow> {
  await updateFineTune(db, row.id, { status: 'uploading' })
  let trainingFileId = row.trainingFileId
  if (trainingFileId === null) {
    trainingFileId = await client.uploadFile(
      `${row.datasetId}-train.jsonl`,
      await readAll(db, row.datasetId, 'train'),
      signal,
    )
    await updateFineTune(db, row.id, { trainingFileId })
  }
  let validationFileId = row.validationFileId
  if (validationFileId === null) {
    const validation = await readAll(db, row.datasetId, 'validation')
    if (validation !== '') {
      validationFileId = await client.uploadFile(`${row.datasetId}-validation.jsonl`, validation, signal)
      await updateFineTune(db, row.id, { validationFileId })
    }
  }
  // A worker that died between creating the job and saving its id: find the job by its metadata.
  const metadata = { onbrand_fine_tune_id: row.id }
  const existing =
    row.polls === 0 && row.status === 'uploading'
      ? (await client.listJobs(signal)).find((j) => j.metadata?.onbrand_fine_tune_id === row.id)
      : undefined
  const created =
    existing ??
    (await createOutliving(db, client, row, signal, {
      model: row.baseModel,
      trainingFile: trainingFileId,
      ...(validationFileId ? { validationFile: validationFileId } : {}),
      ...(row.suffix ? { suffix: row.suffix } : {}),
      hyperparameters: row.hyperparameters,
      metadata,
    }))
  await updateFineTune(db, row.id, { providerJobId: created.id, status: providerStatus(created.status) })
  return (await findFineTune(db, row.id))!
}

/**
 * Create the provider's job without handing it the worker's signal: a stop or a cancel arriving while
 * the request is out must not leave a job training (and billing) that nobody knows of. The handler
 * returns at once on the signal; the request finishes behind it, its id is saved, and the job is
 * cancelled at the provider if a cancel was asked for meanwhile.
 */
async function createOutliving(
  db: Queryable,
  client: FineTuningClient,
  row: FineTuneRow,
  signal: AbortSignal,
  body: Parameters<FineTuningClient['createJob']>[0],
): Promise<ProviderJob> {
  const creating = client.createJob(body)
  if (signal.aborted) signal.throwIfAborted()
  let onAbort = () => {}
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([creating, aborted])
  } catch (error) {
    if (signal.aborted) {
      creating
        .then(async (job) => {
          // The id only: the status is the next claim's to set (or stays `cancelled`).
          await updateFineTune(db, row.id, { providerJobId: job.id })
          const ingestJob = row.jobId ? await findJob(db, row.jobId) : undefined
          if (ingestJob?.cancelRequestedAt || ingestJob?.status === 'cancelled')
            await client.cancelJob(job.id)
        })
        .catch(() => {})
    }
    throw error
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

async function readAll(db: Queryable, datasetId: string, split: 'train' | 'validation'): Promise<string> {
  let text = ''
  for await (const line of exportLines(db, datasetId, split)) text += line
  return text
}

/** Register the model with the base model's fine-tuned prices and endpoint, then stage it as a split arm. */
async function succeed(deps: FollowDeps, row: FineTuneRow, providerJob: ProviderJob): Promise<Step> {
  const modelId = providerJob.fineTunedModel
  if (!modelId)
    return fail(deps.db, row, `The provider's job ${providerJob.id} succeeded without naming a model.`)
  const base = (await findModelRow(deps.db, row.baseModel))!
  const provenance = { fineTuneId: row.id, providerJobId: providerJob.id, datasetId: row.datasetId }
  if (await findModelRow(deps.db, modelId)) {
    // Registered already (a models file naming it, or a previous claim that stopped before staging).
    await updateModelRow(deps.db, modelId, provenance)
    deps.models.invalidate()
  } else {
    const priced = base.fineTunedInputPricePer1M !== null && base.fineTunedOutputPricePer1M !== null
    await registerModel(deps.db, deps.models, {
      source: 'fine_tune',
      ...(row.createdBy ? { createdBy: row.createdBy } : {}),
      fineTuneId: row.id,
      request: {
        id: modelId,
        kind: 'fine_tuned',
        baseModel: base.id,
        ...(base.baseURL !== null ? { baseURL: base.baseURL } : {}),
        ...(base.apiKeyEnv !== null ? { apiKeyEnv: base.apiKeyEnv } : {}),
        // Fine-tuned inference is priced on its own (often 1.5–2× the base); unknown stays unknown, never the base's.
        ...(priced
          ? {
              inputPricePer1M: base.fineTunedInputPricePer1M!,
              outputPricePer1M: base.fineTunedOutputPricePer1M!,
              ...(base.pricesAsOf !== null ? { pricesAsOf: base.pricesAsOf } : {}),
            }
          : {}),
        ...(base.contextWindow !== null ? { contextWindow: base.contextWindow } : {}),
        providerJobId: providerJob.id,
        datasetId: row.datasetId,
      },
    })
  }
  const staged = await stageModel(deps.db, deps.models, {
    task: row.taskName,
    model: modelId,
    share: row.share,
    ...(row.createdBy ? { createdBy: row.createdBy } : {}),
  })
  await updateFineTune(deps.db, row.id, {
    status: 'succeeded',
    fineTunedModel: modelId,
    stagedVersion: staged.version,
    error: null,
    finished: true,
  })
  deps.logger.info(
    { fineTuneId: row.id, model: modelId, version: staged.version },
    'fine-tuned model registered and staged',
  )
  return { finish: 'succeeded' }
}

async function fail(db: Queryable, row: FineTuneRow, error: string): Promise<Step> {
  await updateFineTune(db, row.id, { status: 'failed', error, finished: true })
  return { finish: 'failed', error }
}

function providerStatus(status: string): FineTuneStatus {
  switch (status) {
    case 'validating_files':
    case 'queued':
    case 'running':
    case 'succeeded':
    case 'failed':
    case 'cancelled':
      return status
    case 'pending':
      return 'queued'
    default:
      // Statuses other services add ("paused", "deploying"…) count as running.
      return 'running'
  }
}

/** The events kept, oldest first: the provider lists them newest first, often several in one second. */
function mergeEvents(
  kept: FineTuneEvent[],
  newestFirst: { id: string; createdAt: number; level: string; message: string }[],
): FineTuneEvent[] {
  const seen = new Set(kept.map((e) => e.id))
  const fresh = [...newestFirst]
    .reverse()
    .filter((e) => !seen.has(e.id))
    .map((e) => ({
      id: e.id,
      at: new Date(e.createdAt * 1000).toISOString(),
      level: e.level,
      message: e.message,
    }))
  return [...kept, ...fresh].slice(-KEPT_EVENTS)
}
