import type { ModelSettings } from '../generation/model-registry.js'

/** The provider's job, as much of it as Onbrand follows. */
export interface ProviderJob {
  id: string
  status: string
  fineTunedModel: string | null
  trainedTokens: number | null
  error: { code?: string; message?: string } | null
}

export interface ProviderEvent {
  id: string
  createdAt: number
  level: string
  message: string
}

export interface ProviderCheckpoint {
  step: number
  createdAt: number
  trainLoss: number | null
  validLoss: number | null
}

/** The provider's answer was an error: `status` 0 when it could not be reached at all. */
export class FineTuningHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
    this.name = 'FineTuningHttpError'
  }

  /** Worth trying again later: unreachable, rate limited, or the provider's own failure. */
  get transient(): boolean {
    return (
      this.status === 0 ||
      this.status === 408 ||
      this.status === 409 ||
      this.status === 429 ||
      this.status >= 500
    )
  }
}

/**
 * The OpenAI files + fine_tuning/jobs API, which Azure OpenAI's v1 API and several compatible services
 * speak, over fetch. The endpoint and key are the base model's in the registry.
 */
export interface FineTuningClient {
  uploadFile(name: string, content: string, signal?: AbortSignal): Promise<string>
  createJob(
    body: {
      model: string
      trainingFile: string
      validationFile?: string
      suffix?: string
      hyperparameters: Record<string, unknown>
      metadata: Record<string, string>
    },
    signal?: AbortSignal,
  ): Promise<ProviderJob>
  /** Recent jobs, newest first (to find one created before a crash, by its metadata). */
  listJobs(signal?: AbortSignal): Promise<(ProviderJob & { metadata: Record<string, string> | null })[]>
  getJob(id: string, signal?: AbortSignal): Promise<ProviderJob>
  cancelJob(id: string, signal?: AbortSignal): Promise<ProviderJob>
  /** Newest first, as the API pages them. */
  listEvents(id: string, signal?: AbortSignal): Promise<ProviderEvent[]>
  listCheckpoints(id: string, signal?: AbortSignal): Promise<ProviderCheckpoint[]>
}

const TIMEOUT_MS = 60_000

export function createFineTuningClient(
  settings: Pick<ModelSettings, 'baseURL' | 'apiKey'>,
): FineTuningClient {
  const base = (settings.baseURL ?? 'https://api.openai.com/v1').replace(/\/+$/, '')
  const call = async (method: string, path: string, body?: string | FormData, signal?: AbortSignal) => {
    const headers: Record<string, string> = {}
    if (settings.apiKey) headers.authorization = `Bearer ${settings.apiKey}`
    if (typeof body === 'string') headers['content-type'] = 'application/json'
    const timeout = AbortSignal.timeout(TIMEOUT_MS)
    let res: Response
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      })
    } catch (error) {
      if (signal?.aborted) throw error
      throw new FineTuningHttpError(0, 'the fine-tuning endpoint could not be reached')
    }
    const text = await res.text()
    let json: Record<string, unknown> = {}
    try {
      json = JSON.parse(text) as Record<string, unknown>
    } catch {
      // A proxy's HTML page: described by its status alone.
    }
    if (!res.ok) {
      const error = json.error as { message?: unknown } | undefined
      const message = typeof error?.message === 'string' ? error.message.slice(0, 500) : `HTTP ${res.status}`
      throw new FineTuningHttpError(res.status, message)
    }
    return json
  }
  return {
    async uploadFile(name, content, signal) {
      const form = new FormData()
      form.set('purpose', 'fine-tune')
      form.set('file', new Blob([content], { type: 'application/jsonl' }), name)
      const file = await call('POST', '/files', form, signal)
      return String(file.id)
    },
    async createJob(body, signal) {
      const payload = {
        model: body.model,
        training_file: body.trainingFile,
        ...(body.validationFile ? { validation_file: body.validationFile } : {}),
        ...(body.suffix ? { suffix: body.suffix } : {}),
        ...(Object.keys(body.hyperparameters).length > 0 ? { hyperparameters: body.hyperparameters } : {}),
        metadata: body.metadata,
      }
      return toJob(await call('POST', '/fine_tuning/jobs', JSON.stringify(payload), signal))
    },
    async listJobs(signal) {
      const page = await call('GET', '/fine_tuning/jobs?limit=50', undefined, signal)
      return ((page.data as Record<string, unknown>[] | undefined) ?? []).map((job) => ({
        ...toJob(job),
        metadata: (job.metadata as Record<string, string> | null) ?? null,
      }))
    },
    getJob: async (id, signal) =>
      toJob(await call('GET', `/fine_tuning/jobs/${encodeURIComponent(id)}`, undefined, signal)),
    cancelJob: async (id, signal) =>
      toJob(await call('POST', `/fine_tuning/jobs/${encodeURIComponent(id)}/cancel`, undefined, signal)),
    async listEvents(id, signal) {
      const page = await call(
        'GET',
        `/fine_tuning/jobs/${encodeURIComponent(id)}/events?limit=100`,
        undefined,
        signal,
      )
      return ((page.data as Record<string, unknown>[] | undefined) ?? []).map((e) => ({
        id: String(e.id),
        createdAt: Number(e.created_at),
        level: String(e.level ?? 'info'),
        message: String(e.message ?? '').slice(0, 1000),
      }))
    },
    async listCheckpoints(id, signal) {
      const page = await call(
        'GET',
        `/fine_tuning/jobs/${encodeURIComponent(id)}/checkpoints?limit=100`,
        undefined,
        signal,
      )
      return ((page.data as Record<string, unknown>[] | undefined) ?? []).map((c) => {
        const metrics = (c.metrics as Record<string, unknown> | undefined) ?? {}
        const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null)
        return {
          step: Number(c.step_number ?? metrics.step ?? 0),
          createdAt: Number(c.created_at),
          trainLoss: num(metrics.train_loss),
          validLoss: num(metrics.valid_loss ?? metrics.full_valid_loss),
        }
      })
    },
  }
}

function toJob(job: Record<string, unknown>): ProviderJob {
  const error = job.error as { code?: string; message?: string } | null | undefined
  return {
    id: String(job.id),
    status: String(job.status),
    fineTunedModel: typeof job.fine_tuned_model === 'string' ? job.fine_tuned_model : null,
    trainedTokens: typeof job.trained_tokens === 'number' ? job.trained_tokens : null,
    error: error && (error.message || error.code) ? error : null,
  }
}
