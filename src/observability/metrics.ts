import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client'
import type { Queryable } from '../db/transaction.js'
import { registerJobQueueGauges } from './job-queue-gauges.js'

/**
 * One registry per app, not prom-client's global one: tests build several apps in one process, and
 * a metric registered twice on the global registry throws. Label values are bounded on purpose
 * (route patterns, task names, model ids, strategies), never raw paths, ids or user text.
 */
export interface Metrics {
  registry: Registry
  httpDuration: Histogram<'method' | 'route' | 'status'>
  generationDuration: Histogram<'task' | 'model' | 'strategy' | 'status'>
  generationTokens: Counter<'task' | 'model' | 'strategy' | 'kind'>
  generationFallbacks: Counter<'task' | 'strategy'>
  modelBreakerChanges: Counter<'model' | 'state'>
  generationCost: Counter<'task' | 'model' | 'arm'>
  generationUnpriced: Counter<'task' | 'model' | 'arm'>
  retrievalDuration: Histogram<'mode'>
  chunksEmbedded: Counter
  chunksReused: Counter
  jobsFinished: Counter<'kind' | 'status'>
  rateLimited: Counter<'limit'>
}

export interface CreateMetricsOptions {
  /** Where ingest_jobs lives: queue depth and oldest job age are read from it at scrape time. */
  jobQueue?: Queryable
  /** Node process metrics (CPU, memory, event loop lag); once per process, so the server turns them on. */
  processMetrics?: boolean
}

export function createMetrics(options: CreateMetricsOptions = {}): Metrics {
  const registry = new Registry()
  const registers = [registry]
  if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'onbrand_' })
  if (options.jobQueue) registerJobQueueGauges(registry, options.jobQueue)
  return {
    registry,
    httpDuration: new Histogram({
      name: 'onbrand_http_request_duration_seconds',
      help: 'Time to the response headers, by matched route pattern, method and status.',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    generationDuration: new Histogram({
      name: 'onbrand_generation_duration_seconds',
      help: 'Model call latency of a generation, by task, model served and routing strategy.',
      labelNames: ['task', 'model', 'strategy', 'status'],
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120],
      registers,
    }),
    generationTokens: new Counter({
      name: 'onbrand_generation_tokens_total',
      help: 'Model tokens used by generations, kind = prompt | completion.',
      labelNames: ['task', 'model', 'strategy', 'kind'],
      registers,
    }),
    generationCost: new Counter({
      name: 'onbrand_generation_cost_usd_total',
      help: "Model spend of generations in US dollars, at the model's configured prices, by task, model that answered and route arm (foundation | fine_tuned).",
      labelNames: ['task', 'model', 'arm'],
      registers,
    }),
    generationUnpriced: new Counter({
      name: 'onbrand_generation_unpriced_total',
      help: 'Generations whose model has no configured price: their spend is unknown, not zero (see onbrand_generation_cost_usd_total).',
      labelNames: ['task', 'model', 'arm'],
      registers,
    }),
    modelBreakerChanges: new Counter({
      name: 'onbrand_model_breaker_changes_total',
      help: 'Circuit breaker changes per model: state = open (skipped for a cool-down), half_open (one trial call), closed.',
      labelNames: ['model', 'state'],
      registers,
    }),
    generationFallbacks: new Counter({
      name: 'onbrand_generation_fallbacks_total',
      help: 'Generations answered by the foundation model after the fine-tuned model failed or timed out.',
      labelNames: ['task', 'strategy'],
      registers,
    }),
    retrievalDuration: new Histogram({
      name: 'onbrand_retrieval_duration_seconds',
      help: 'Retrieval latency (search and packing), by mode.',
      labelNames: ['mode'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    chunksEmbedded: new Counter({
      name: 'onbrand_chunks_embedded_total',
      help: 'Chunks sent to the embedding model during ingestion.',
      registers,
    }),
    chunksReused: new Counter({
      name: 'onbrand_chunks_reused_total',
      help: 'Chunks whose stored embedding was reused (same text, same model): no embedding call.',
      registers,
    }),
    jobsFinished: new Counter({
      name: 'onbrand_jobs_finished_total',
      help: 'Background jobs finished, by kind (ingest, …) and status (succeeded, succeeded_with_errors, failed, cancelled).',
      labelNames: ['kind', 'status'],
      registers,
    }),
    rateLimited: new Counter({
      name: 'onbrand_rate_limited_total',
      help: 'Requests refused with 429, by the limit hit: rpm (requests) or tpm (model tokens).',
      labelNames: ['limit'],
      registers,
    }),
  }
}

export interface GenerationSample {
  task: string
  /** The model that answered (after any fallback). */
  model: string
  strategy: string
  latencyMs: number
  promptTokens?: number | null
  completionTokens?: number | null
  fellBack: boolean
  /** The arm the route chose (a fallback keeps its arm). */
  arm?: 'foundation' | 'fine_tuned'
  /** What the calls cost at the model's prices; null when the model has no price (unknown, not zero). */
  costUsd?: number | null
  /** Default `succeeded`. */
  status?: 'succeeded' | 'failed'
}

/**
 * Record one generation. `metrics` may be undefined so code that runs without an app (CLI, some tests)
 * needs no branches.
 */
export function observeGeneration(metrics: Metrics | undefined, sample: GenerationSample): void {
  if (!metrics) return
  const labels = { task: sample.task, model: sample.model, strategy: sample.strategy }
  metrics.generationDuration.observe(
    { ...labels, status: sample.status ?? 'succeeded' },
    Math.max(0, sample.latencyMs) / 1000,
  )
  // A counter throws on a negative or non-numeric increment; a bad count must not fail the request.
  if (isPositive(sample.promptTokens)) {
    metrics.generationTokens.inc({ ...labels, kind: 'prompt' }, sample.promptTokens)
  }
  if (isPositive(sample.completionTokens)) {
    metrics.generationTokens.inc({ ...labels, kind: 'completion' }, sample.completionTokens)
  }
  if (sample.fellBack) metrics.generationFallbacks.inc({ task: sample.task, strategy: sample.strategy })
  if (sample.arm !== undefined && sample.costUsd !== undefined) {
    const spend = { task: sample.task, model: sample.model, arm: sample.arm }
    if (sample.costUsd === null) {
      // Tokens were spent (or a call was made) at a price nobody configured: counted as unknown.
      if (isPositive(sample.promptTokens) || isPositive(sample.completionTokens))
        metrics.generationUnpriced.inc(spend)
    } else if (Number.isFinite(sample.costUsd) && sample.costUsd >= 0) {
      metrics.generationCost.inc(spend, sample.costUsd)
    }
  }
}

function isPositive(value: number | null | undefined): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0
}

/** Record one retrieval; `mode` names the search arms used, e.g. `hybrid` or `lexical`. */
export function observeRetrieval(
  metrics: Metrics | undefined,
  sample: { latencyMs: number; mode: string },
): void {
  metrics?.retrievalDuration.observe({ mode: sample.mode }, Math.max(0, sample.latencyMs) / 1000)
}

/** Record the outcome of embedding one batch or document: chunks embedded now and chunks reused. */
export function observeEmbedding(
  metrics: Metrics | undefined,
  counts: { embedded: number; reused: number },
): void {
  if (!metrics) return
  if (counts.embedded > 0) metrics.chunksEmbedded.inc(counts.embedded)
  if (counts.reused > 0) metrics.chunksReused.inc(counts.reused)
}

/** Count a job that reached a final status. */
export function observeJobFinished(
  metrics: Metrics | undefined,
  sample: { kind: string; status: 'succeeded' | 'succeeded_with_errors' | 'failed' | 'cancelled' },
): void {
  metrics?.jobsFinished.inc({ kind: sample.kind, status: sample.status })
}
