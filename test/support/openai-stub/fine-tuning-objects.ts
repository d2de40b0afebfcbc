/**
 * The fine-tuning API's objects in OpenAI's wire shapes (the SDK's `FineTuningJob`,
 * `FineTuningJobEvent`, `FineTuningJobCheckpoint`), and the stub's knobs for them.
 */
import type { FineTuneMethodType } from './fine-tune-data.js'

export type FineTuneStatus = 'validating_files' | 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled'

/**
 * What moves a job one status: `per-get` (default) each `GET /fine_tuning/jobs/{id}` (the job answers
 * its new status), `timed` every `fineTuneStepMs` of the stub's clock, `manual` only `advanceFineTune`.
 */
export type FineTuneProgress = 'per-get' | 'timed' | 'manual'

export interface FineTuneError {
  code: string
  message: string
  param: string | null
}

export interface FailNextFineTuneOptions {
  /** Default `internal_error`. */
  code?: string
  /** Default: "The job failed due to an internal error (stub)." */
  message?: string
  param?: string | null
  /** The status the job fails in, instead of moving on (default `running`). */
  atStatus?: 'validating_files' | 'queued' | 'running'
  /** How many of the next created jobs fail this way (default 1). */
  times?: number
}

export type HyperValue = 'auto' | number

export interface Hyperparameters {
  batch_size: HyperValue
  learning_rate_multiplier: HyperValue
  n_epochs: HyperValue
  /** DPO only. */
  beta?: HyperValue
}

export interface FineTuningEventObject {
  object: 'fine_tuning.job.event'
  id: string
  created_at: number
  level: 'info' | 'warn' | 'error'
  message: string
  type: 'message' | 'metrics'
  data: Record<string, unknown>
}

export interface CheckpointMetrics {
  step: number
  train_loss: number
  train_mean_token_accuracy: number
  valid_loss?: number
  valid_mean_token_accuracy?: number
  full_valid_loss?: number
  full_valid_mean_token_accuracy?: number
}

export interface FineTuningCheckpointObject {
  object: 'fine_tuning.job.checkpoint'
  id: string
  created_at: number
  fine_tuned_model_checkpoint: string
  fine_tuning_job_id: string
  metrics: CheckpointMetrics
  step_number: number
}

/** A job as `GET /v1/fine_tuning/jobs/{id}` answers it (the SDK's `FineTuningJob`). */
export interface FineTuningJobObject {
  object: 'fine_tuning.job'
  id: string
  created_at: number
  error: FineTuneError | null
  fine_tuned_model: string | null
  finished_at: number | null
  hyperparameters: { batch_size: HyperValue; learning_rate_multiplier: HyperValue; n_epochs: HyperValue }
  model: string
  organization_id: string
  result_files: string[]
  seed: number
  status: FineTuneStatus
  trained_tokens: number | null
  training_file: string
  validation_file: string | null
  estimated_finish: number | null
  integrations: unknown[]
  metadata: Record<string, string> | null
  user_provided_suffix: string | null
  method: { type: FineTuneMethodType } & Record<string, unknown>
}

export interface FineTuningSettings {
  progress: FineTuneProgress
  stepMs: number
  minTrainingExamples: number
}
