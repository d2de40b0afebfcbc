/**
 * `POST /v1/fine_tuning/jobs`: the checks OpenAI answers with a 400 before a job exists.
 */
import type { FileStore } from './files.js'
import type { FineTuneMethodType } from './fine-tune-data.js'
import type { Hyperparameters, HyperValue } from './fine-tuning-objects.js'
import { isRecord, StubHttpError } from './http.js'

export interface JobRequest {
  model: string
  trainingFile: string
  validationFile: string | null
  suffix: string | null
  /** Undefined when the request left it to the service. */
  seed: number | undefined
  metadata: Record<string, string> | null
  method: FineTuneMethodType
  hyper: Hyperparameters
}

function checkFile(files: FileStore, id: unknown, param: 'training_file' | 'validation_file'): string {
  if (typeof id !== 'string' || id === '') {
    throw new StubHttpError(400, `'${param}' must be a file id.`, param)
  }
  const stored = files.find(id)
  if (stored === undefined) {
    throw new StubHttpError(400, `invalid ${param}: no such file ${id}.`, param, 'invalid_file_id')
  }
  if (stored.file.purpose !== 'fine-tune') {
    throw new StubHttpError(
      400,
      `File ${id} has purpose '${stored.file.purpose}'; fine-tuning needs a file uploaded with purpose 'fine-tune'.`,
      param,
      'invalid_file_purpose',
    )
  }
  return id
}

function hyperValue(value: unknown, param: string, valid: (n: number) => boolean, rule: string): HyperValue {
  if (value === undefined || value === null || value === 'auto') return 'auto'
  if (typeof value === 'number' && valid(value)) return value
  throw new StubHttpError(400, `'${param}' must be 'auto' or ${rule}, got ${JSON.stringify(value)}.`, param)
}

function parseHyperparameters(body: Record<string, unknown>, method: FineTuneMethodType): Hyperparameters {
  const methodConfig = isRecord(body.method) ? body.method[method] : undefined
  const fromMethod =
    isRecord(methodConfig) && isRecord(methodConfig.hyperparameters) ? methodConfig.hyperparameters : {}
  // The top-level `hyperparameters` is deprecated in favour of `method`; the method's values win.
  const raw = { ...(isRecord(body.hyperparameters) ? body.hyperparameters : {}), ...fromMethod }
  const prefix = isRecord(methodConfig) ? `method.${method}.hyperparameters` : 'hyperparameters'
  const integer = (min: number, max: number) => (n: number) => Number.isInteger(n) && n >= min && n <= max
  const hyper: Hyperparameters = {
    batch_size: hyperValue(
      raw.batch_size,
      `${prefix}.batch_size`,
      integer(1, 256),
      'a whole number from 1 to 256',
    ),
    learning_rate_multiplier: hyperValue(
      raw.learning_rate_multiplier,
      `${prefix}.learning_rate_multiplier`,
      (n) => n > 0 && n <= 10,
      'a number above 0 and at most 10',
    ),
    n_epochs: hyperValue(raw.n_epochs, `${prefix}.n_epochs`, integer(1, 50), 'a whole number from 1 to 50'),
  }
  if (method === 'dpo') {
    hyper.beta = hyperValue(
      raw.beta,
      `${prefix}.beta`,
      (n) => n > 0 && n <= 2,
      'a number above 0 and at most 2',
    )
  }
  return hyper
}

export function parseJobRequest(body: Record<string, unknown>, files: FileStore): JobRequest {
  const { model, suffix, seed, metadata } = body
  if (typeof model !== 'string' || model.trim() === '') {
    throw new StubHttpError(400, "'model' is a required property.", 'model')
  }
  const trainingFile = checkFile(files, body.training_file, 'training_file')
  const validationFile =
    body.validation_file === undefined || body.validation_file === null
      ? null
      : checkFile(files, body.validation_file, 'validation_file')
  if (
    suffix !== undefined &&
    suffix !== null &&
    (typeof suffix !== 'string' || suffix.length > 64 || suffix.includes(':'))
  ) {
    throw new StubHttpError(400, "'suffix' must be a string of at most 64 characters without ':'.", 'suffix')
  }
  if (
    seed !== undefined &&
    seed !== null &&
    !(Number.isInteger(seed) && (seed as number) >= 0 && (seed as number) <= 2147483647)
  ) {
    throw new StubHttpError(400, "'seed' must be a whole number from 0 to 2147483647.", 'seed')
  }
  if (
    metadata !== undefined &&
    metadata !== null &&
    !(
      isRecord(metadata) &&
      Object.keys(metadata).length <= 16 &&
      Object.values(metadata).every((v) => typeof v === 'string')
    )
  ) {
    throw new StubHttpError(400, "'metadata' must be an object of at most 16 string values.", 'metadata')
  }
  let method: FineTuneMethodType = 'supervised'
  if (body.method !== undefined && body.method !== null) {
    const type = isRecord(body.method) ? body.method.type : undefined
    if (type !== 'supervised' && type !== 'dpo') {
      throw new StubHttpError(
        400,
        `'method.type' must be 'supervised' or 'dpo' (the stub does not do ${JSON.stringify(type)}).`,
        'method.type',
      )
    }
    method = type
  }
  return {
    model,
    trainingFile,
    validationFile,
    suffix: typeof suffix === 'string' && suffix !== '' ? suffix : null,
    seed: typeof seed === 'number' ? seed : undefined,
    metadata: isRecord(metadata) ? (metadata as Record<string, string>) : null,
    method,
    hyper: parseHyperparameters(body, method),
  }
}
