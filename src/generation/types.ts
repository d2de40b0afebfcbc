import type { Logger } from 'pino'
import type { ApiKey } from '../auth/api-keys.js'
import type { RateLimiter } from '../auth/rate-limiter.js'
import type { TaskVersionRow } from '../db/tasks.js'
import type { Metrics } from '../observability/metrics.js'
import type { Passage, RetrievalFilters, RetrievalResult, RetrieveInput } from '../retrieval/types.js'
import type { ChatMessage, ChatModelFactory } from './chat-model.js'
import type { ModelCircuitBreakers } from './circuit-breaker.js'
import type { CitationReport } from './citations.js'
import type { GenerationLogWriter } from './generation-log.js'
import type { ModelRegistry } from './model-registry.js'
import type { RouteDecision } from './routing.js'

type Retriever = (input: RetrieveInput) => Promise<RetrievalResult>

/** What generation needs; built once per process (src/services.ts) but for the logger, which is per request. */
export interface GenerationDeps {
  /** Active task versions by name (services give the cached ones: src/tasks/active-task-cache.ts). */
  tasks: { get(name: string): Promise<TaskVersionRow | undefined> }
  models: ModelRegistry
  chatModels: ChatModelFactory
  /** Per model and endpoint: a failing fine-tuned model is skipped for a cool-down (none: never skipped). */
  breakers?: ModelCircuitBreakers
  retrieve: Retriever
  logger: Logger
  maxInputChars: number
  /** Prometheus metrics of the app, when it has them. */
  metrics?: Metrics
  /** Where generation rows are queued for writing, and model tokens charged to keys. */
  generationLog: Pick<GenerationLogWriter, 'write'>
  rateLimiter: Pick<RateLimiter, 'chargeTokens'>
}

export type SharedGenerationDeps = Omit<GenerationDeps, 'logger'>

export interface GenerateInput {
  task: string
  /** The request text: the retrieval query and, for /v1/generate, the user message. */
  input: string
  /** Messages after the system prompt; defaults to the input as one user message. */
  conversation?: ChatMessage[]
  variables?: Record<string, string>
  collection?: string
  filters?: RetrievalFilters
  /** Keys the A/B split; without it the request id does, so one caller may see both arms. */
  subject?: string
  dryRun?: boolean
  requestId: string
  apiKey?: ApiKey
  endpoint: 'generate' | 'chat_completions'
  /** Caller-chosen sampling settings (chat completions), overriding the task's. */
  temperature?: number
  maxTokens?: number
  /** The request field `maxTokens` came from (`max_tokens`, …), so an error about it can name it. */
  maxTokensField?: string
}

export interface PreparedGeneration {
  id: string
  startedAt: number
  request: GenerateInput
  task: TaskVersionRow
  collection: string | null
  messages: ChatMessage[]
  passages: Passage[]
  droppedPassages: number
  decision: RouteDecision
  /** Which template rendered the system message: the task's systemPrompt, or route.fineTunedSystemPrompt. */
  promptTemplate: 'foundation' | 'fine_tuned'
  /** With the fine-tuned template: the prompt under the full one, for the fallback model. */
  fallbackPrompt?: { messages: ChatMessage[]; passages: Passage[]; droppedPassages: number }
  temperature?: number
  maxTokens?: number
  jsonSchema?: Record<string, unknown>
}

export interface RouteInfo {
  model: string
  strategy: RouteDecision['strategy']
  reason: string
  fellBack: boolean
}

interface UsageInfo {
  promptTokens: number
  completionTokens: number
  /** Null when the model has no configured price. */
  costUsd: number | null
}

export interface GenerationResult extends CitationReport {
  id: string
  task: { name: string; version: number }
  output: string
  /** The parsed output of a JSON task. */
  json?: unknown
  route: RouteInfo
  usage: UsageInfo
  latencyMs: number
}

export interface DryRunResult extends CitationReport {
  dryRun: true
  task: { name: string; version: number }
  messages: ChatMessage[]
  route: Omit<RouteInfo, 'fellBack'> & {
    fallbackModel: string | null
    /** Which template the messages were rendered from: systemPrompt, or route.fineTunedSystemPrompt. */
    template: 'foundation' | 'fine_tuned'
  }
  droppedPassages: number
}

export type GenerationEvent =
  | { type: 'meta'; id: string; task: { name: string; version: number }; route: RouteInfo }
  | { type: 'delta'; text: string }
  | { type: 'done'; result: GenerationResult }
  | {
      type: 'error'
      code: 'upstream_error' | 'upstream_timeout' | 'internal'
      detail: string
      requestId: string
      id: string
    }
