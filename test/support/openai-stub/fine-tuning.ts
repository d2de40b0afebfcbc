/**
 * The fine-tuning jobs API (`/v1/fine_tuning/jobs`): a deterministic state machine
 * validating_files → queued → running → succeeded | failed | cancelled, with events, checkpoints whose
 * losses fall step by step, a results file, and the fine-tuned model registered for chat once the job
 * succeeds. A job moves one status per step; what makes a step is the `progress` setting.
 */
import { fnv1a } from './deterministic-embedding.js'
import type { FileStore } from './files.js'
import { checkFineTuneData, type FineTuneMethodType } from './fine-tune-data.js'
import { parseJobRequest } from './fine-tune-request.js'
import type {
  CheckpointMetrics,
  FailNextFineTuneOptions,
  FineTuneError,
  FineTuneStatus,
  FineTuningCheckpointObject,
  FineTuningEventObject,
  FineTuningJobObject,
  FineTuningSettings,
  Hyperparameters,
} from './fine-tuning-objects.js'
import { base62, cursorPage, StubHttpError } from './http.js'
import { type ModelRegistry, STUB_ORGANISATION } from './models.js'

interface Job {
  id: string
  createdAt: number
  model: string
  trainingFile: string
  validationFile: string | null
  suffix: string | null
  seed: number
  metadata: Record<string, string> | null
  method: FineTuneMethodType
  hyper: Hyperparameters
  status: FineTuneStatus
  error: FineTuneError | null
  finishedAt: number | null
  fineTunedModel: string | null
  trainedTokens: number | null
  estimatedFinish: number | null
  resultFiles: string[]
  /** Oldest first. */
  events: FineTuningEventObject[]
  /** Oldest first. */
  checkpoints: FineTuningCheckpointObject[]
  examples: number
  tokens: number
  failure: (FineTuneError & { atStatus: FailNextFineTuneOptions['atStatus'] }) | undefined
  lastStepMs: number
}

interface Deps {
  files: FileStore
  models: ModelRegistry
  nextId: (prefix: string, length?: number) => string
  nowMs: () => number
  settings: () => FineTuningSettings
}

const TERMINAL: readonly FineTuneStatus[] = ['succeeded', 'failed', 'cancelled']
const isTerminal = (job: Job): boolean => TERMINAL.includes(job.status)
const round6 = (x: number): number => Math.round(x * 1e6) / 1e6

/** Losses fall and accuracy rises with the step, the same way for every run of the same job. */
function metricsAt(step: number, totalSteps: number, withValidation: boolean): CheckpointMetrics {
  const decay = Math.exp((-3 * step) / totalSteps)
  const trainLoss = round6(0.2 + 2 * decay)
  const trainAccuracy = round6(0.95 - 0.55 * decay)
  const metrics: CheckpointMetrics = { step, train_loss: trainLoss, train_mean_token_accuracy: trainAccuracy }
  if (withValidation) {
    metrics.valid_loss = round6(trainLoss * 1.1 + 0.05)
    metrics.valid_mean_token_accuracy = round6(trainAccuracy - 0.03)
  }
  return metrics
}

export class FineTuningStore {
  private readonly jobs = new Map<string, Job>()
  private failures: Array<{ error: Job['failure']; remaining: number }> = []

  constructor(private readonly deps: Deps) {}

  private nowSeconds(): number {
    return Math.floor(this.deps.nowMs() / 1000)
  }

  create(body: Record<string, unknown>): FineTuningJobObject {
    const request = parseJobRequest(body, this.deps.files)
    const id = this.deps.nextId('ftjob-')
    const queued = this.failures[0]
    if (queued !== undefined && --queued.remaining <= 0) this.failures.shift()
    const job: Job = {
      id,
      createdAt: this.nowSeconds(),
      ...request,
      seed: request.seed ?? fnv1a(id) % 2147483647,
      status: 'validating_files',
      error: null,
      finishedAt: null,
      fineTunedModel: null,
      trainedTokens: null,
      estimatedFinish: null,
      resultFiles: [],
      events: [],
      checkpoints: [],
      examples: 0,
      tokens: 0,
      failure: queued?.error,
      lastStepMs: this.deps.nowMs(),
    }
    this.jobs.set(id, job)
    this.deps.models.noteUsed(job.model)
    this.event(job, `Created fine-tuning job: ${id}`)
    this.event(
      job,
      job.validationFile === null
        ? `Validating training file: ${job.trainingFile}`
        : `Validating training file: ${job.trainingFile} and validation file: ${job.validationFile}`,
    )
    return this.toObject(job)
  }

  private get(id: string): Job {
    this.tick()
    const job = this.jobs.get(id)
    if (job === undefined) {
      throw new StubHttpError(
        404,
        `Could not find fine-tuning job: ${id}`,
        'fine_tuning_job_id',
        'fine_tune_not_found',
      )
    }
    return job
  }

  retrieve(id: string): FineTuningJobObject {
    const job = this.get(id)
    if (this.deps.settings().progress === 'per-get') this.stepNow(job)
    return this.toObject(job)
  }

  list(query: URLSearchParams): ReturnType<typeof cursorPage<FineTuningJobObject>> {
    this.tick()
    const wanted = [...query.entries()].flatMap(([key, value]) => {
      const match = /^metadata\[(.+)\]$/.exec(key)
      return match?.[1] === undefined ? [] : [[match[1], value] as const]
    })
    const jobs = [...this.jobs.values()]
      .reverse()
      .filter((job) => wanted.every(([key, value]) => job.metadata?.[key] === value))
      .map((job) => this.toObject(job))
    return cursorPage(jobs, query, 20, 100)
  }

  cancel(id: string): FineTuningJobObject {
    const job = this.get(id)
    if (isTerminal(job)) {
      throw new StubHttpError(
        400,
        `Job ${id} has already ${job.status === 'cancelled' ? 'been cancelled' : job.status}.`,
      )
    }
    job.status = 'cancelled'
    job.finishedAt = this.nowSeconds()
    job.estimatedFinish = null
    this.event(job, 'Fine-tuning job cancelled')
    return this.toObject(job)
  }

  events(id: string, query: URLSearchParams): ReturnType<typeof cursorPage<FineTuningEventObject>> {
    return cursorPage([...this.get(id).events].reverse(), query, 20, 100)
  }

  checkpoints(id: string, query: URLSearchParams): ReturnType<typeof cursorPage<FineTuningCheckpointObject>> {
    return cursorPage([...this.get(id).checkpoints].reverse(), query, 10, 100)
  }

  /** Moves one job (or every unfinished one) up to `steps` statuses on. */
  advance(id: string | undefined, steps: number): FineTuningJobObject[] {
    this.tick()
    const jobs = id === undefined ? [...this.jobs.values()].filter((job) => !isTerminal(job)) : [this.get(id)]
    for (const job of jobs) {
      for (let i = 0; i < steps && !isTerminal(job); i++) this.stepNow(job)
    }
    return jobs.map((job) => this.toObject(job))
  }

  failNext(options: FailNextFineTuneOptions): void {
    this.failures.push({
      error: {
        code: options.code ?? 'internal_error',
        message: options.message ?? 'The job failed due to an internal error (stub).',
        param: options.param ?? null,
        atStatus: options.atStatus ?? 'running',
      },
      remaining: options.times ?? 1,
    })
  }

  /** In `timed` progress, applies every step whose time has come. */
  tick(): void {
    const { progress, stepMs } = this.deps.settings()
    if (progress !== 'timed' || !(stepMs > 0)) return
    const now = this.deps.nowMs()
    for (const job of this.jobs.values()) {
      while (!isTerminal(job) && now - job.lastStepMs >= stepMs) {
        job.lastStepMs += stepMs
        this.step(job)
      }
    }
  }

  snapshot(): FineTuningJobObject[] {
    this.tick()
    return [...this.jobs.values()].map((job) => this.toObject(job))
  }

  reset(): void {
    this.jobs.clear()
    this.failures = []
  }

  private stepNow(job: Job): void {
    this.step(job)
    job.lastStepMs = this.deps.nowMs()
  }

  private step(job: Job): void {
    if (isTerminal(job)) return
    if (job.failure?.atStatus === job.status) {
      const { atStatus: _, ...error } = job.failure
      this.fail(job, error)
      return
    }
    switch (job.status) {
      case 'validating_files':
        this.validate(job)
        return
      case 'queued':
        job.status = 'running'
        job.estimatedFinish = this.nowSeconds() + 60
        this.event(job, 'Fine-tuning job started')
        return
      case 'running':
        this.succeed(job)
        return
    }
  }

  private validate(job: Job): void {
    const check = (fileId: string, param: 'training_file' | 'validation_file'): FineTuneError | number => {
      const which = param === 'training_file' ? 'training' : 'validation'
      const invalid = (detail: string): FineTuneError => ({
        code: `invalid_${which}_file`,
        message: `The job failed due to an invalid ${which} file. ${detail}`,
        param,
      })
      const stored = this.deps.files.find(fileId)
      if (stored === undefined) return invalid(`File ${fileId} no longer exists.`)
      const result = checkFineTuneData(stored.content.toString('utf8'), job.method)
      if (!result.ok) return invalid(result.detail)
      const minimum = this.deps.settings().minTrainingExamples
      if (param === 'training_file' && result.examples < minimum) {
        return invalid(`The file has ${result.examples} example(s), but needs at least ${minimum}.`)
      }
      if (param === 'training_file') {
        job.examples = result.examples
        job.tokens = result.tokens
      }
      return result.examples
    }
    for (const [fileId, param] of [
      [job.trainingFile, 'training_file'],
      [job.validationFile, 'validation_file'],
    ] as const) {
      if (fileId === null) continue
      const outcome = check(fileId, param)
      if (typeof outcome !== 'number') {
        this.fail(job, outcome)
        return
      }
    }
    const { hyper } = job
    if (hyper.n_epochs === 'auto') hyper.n_epochs = 3
    if (hyper.batch_size === 'auto')
      hyper.batch_size = Math.max(1, Math.min(256, Math.round(job.examples * 0.002)))
    if (hyper.learning_rate_multiplier === 'auto') hyper.learning_rate_multiplier = 1.8
    if (hyper.beta === 'auto') hyper.beta = 0.1
    job.status = 'queued'
    this.event(job, 'Files validated, moving job to queued state')
  }

  private succeed(job: Job): void {
    const epochs = Number(job.hyper.n_epochs)
    const stepsPerEpoch = Math.ceil(job.examples / Number(job.hyper.batch_size))
    const totalSteps = epochs * stepsPerEpoch
    const withValidation = job.validationFile !== null
    const every = Math.max(1, Math.ceil(totalSteps / 50))
    const rows: string[] = ['step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy']
    for (let step = 1; step <= totalSteps; step++) {
      const metrics = metricsAt(step, totalSteps, withValidation)
      rows.push(
        [
          step,
          metrics.train_loss,
          metrics.train_mean_token_accuracy,
          metrics.valid_loss ?? '',
          metrics.valid_mean_token_accuracy ?? '',
        ].join(','),
      )
      if (step % every !== 0 && step !== totalSteps) continue
      this.event(
        job,
        `Step ${step}/${totalSteps}: training loss=${metrics.train_loss.toFixed(4)}`,
        'info',
        'metrics',
        {
          ...metrics,
          total_steps: totalSteps,
        },
      )
    }
    const fineTunedModel = `ft:${job.model}:${STUB_ORGANISATION}:${job.suffix ?? ''}:${base62(job.id, 8)}`
    const now = this.nowSeconds()
    // OpenAI keeps a checkpoint for each of the last three epochs.
    for (let epoch = Math.max(1, epochs - 2); epoch <= epochs; epoch++) {
      const step = epoch * stepsPerEpoch
      const metrics = metricsAt(step, totalSteps, withValidation)
      if (withValidation) {
        metrics.full_valid_loss = metrics.valid_loss
        metrics.full_valid_mean_token_accuracy = metrics.valid_mean_token_accuracy
      }
      job.checkpoints.push({
        object: 'fine_tuning.job.checkpoint',
        id: this.deps.nextId('ftckpt_'),
        created_at: now,
        fine_tuned_model_checkpoint: `${fineTunedModel}:ckpt-step-${step}`,
        fine_tuning_job_id: job.id,
        metrics,
        step_number: step,
      })
      this.event(job, `Checkpoint created at step ${step}`)
    }
    const results = this.deps.files.add(
      'fine-tune-results',
      'step_metrics.csv',
      Buffer.from(`${rows.join('\n')}\n`),
    )
    job.resultFiles = [results.id]
    job.fineTunedModel = fineTunedModel
    job.trainedTokens = job.tokens * epochs
    job.finishedAt = now
    job.estimatedFinish = null
    job.status = 'succeeded'
    this.deps.models.addFineTuned(
      fineTunedModel,
      now,
      job.checkpoints.map((c) => c.fine_tuned_model_checkpoint),
    )
    this.event(job, `New fine-tuned model created: ${fineTunedModel}`)
    this.event(job, 'The job has successfully completed')
  }

  private fail(job: Job, error: FineTuneError): void {
    job.status = 'failed'
    job.error = error
    job.finishedAt = this.nowSeconds()
    job.estimatedFinish = null
    this.event(job, error.message, 'error')
  }

  private event(
    job: Job,
    message: string,
    level: FineTuningEventObject['level'] = 'info',
    type: FineTuningEventObject['type'] = 'message',
    data: Record<string, unknown> = {},
  ): void {
    job.events.push({
      object: 'fine_tuning.job.event',
      id: this.deps.nextId('ftevent-'),
      created_at: this.nowSeconds(),
      level,
      message,
      type,
      data,
    })
  }

  private toObject(job: Job): FineTuningJobObject {
    const { beta, ...common } = job.hyper
    return {
      object: 'fine_tuning.job',
      id: job.id,
      created_at: job.createdAt,
      error: job.error,
      fine_tuned_model: job.fineTunedModel,
      finished_at: job.finishedAt,
      hyperparameters: common,
      model: job.model,
      organization_id: `org-${STUB_ORGANISATION}`,
      result_files: [...job.resultFiles],
      seed: job.seed,
      status: job.status,
      trained_tokens: job.trainedTokens,
      training_file: job.trainingFile,
      validation_file: job.validationFile,
      estimated_finish: job.estimatedFinish,
      integrations: [],
      metadata: job.metadata,
      user_provided_suffix: job.suffix,
      method: {
        type: job.method,
        [job.method]: { hyperparameters: job.method === 'dpo' ? { ...common, beta } : common },
      },
    }
  }
}
