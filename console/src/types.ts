/** The shapes of the API answers the console reads (see /openapi.json); only the fields it uses. */

export interface CurrentKey {
  id: string
  name: string
  scopes: string[]
  /** null: every collection. */
  collections: string[] | null
}

export interface Collection {
  name: string
  description: string
  embeddingModel: string
  embeddingDimensions: number
  textSearchConfig: string
  documentCount: number
  chunkCount: number
  embeddedChunkCount: number
  lastIngest: {
    jobId: string
    status: string
    mode: string
    createdAt: string
    finishedAt: string | null
  } | null
  createdAt: string
}

export type Kind = 'guideline' | 'product'

export interface DocumentItem {
  id: number
  sourceId: string
  kind: Kind
  title: string
  contentHash: string
  metadata: Record<string, unknown>
  chunkCount: number
  embeddedChunkCount: number
  createdAt: string
  updatedAt: string
}

export interface Page<T, C> {
  data: T[]
  nextCursor: C | null
}

export interface Chunk {
  id: number
  ordinal: number
  headingPath: string
  text: string
  tokens: number
  contentHash: string
  embedded: boolean
  embeddingModel: string | null
}

export interface JobIssue {
  file: string
  row?: number
  message: string
}

export interface JobProgress {
  phase: string
  files: { total: number; done: number }
  documents: {
    total: number
    done: number
    added: number
    updated: number
    unchanged: number
    deleted: number
  }
  chunks: { embedded: number; reused: number; pending: number }
  errors: number
  etaSeconds: number | null
}

export interface IngestJob {
  id: string
  collection: string
  /** queued, running, succeeded or failed today; unknown statuses are shown as they come. */
  status: string
  mode: string
  progress: JobProgress | null
  errors: JobIssue[]
  error: string | null
  attempts: number
  createdAt: string
  startedAt: string | null
  finishedAt: string | null
  cancelRequested: boolean
  dismissedAt: string | null
  retryable: boolean
  retryOf: string | null
  retriedAs: string | null
}

export interface Passage {
  documentId: number
  sourceId: string
  title: string
  kind: Kind
  headingPath: string
  text: string
  chunkIds: number[]
  tokens: number
  metadata: Record<string, unknown>
  scores: { vector: number | null; lexical: number | null; fused: number } & Record<string, unknown>
  /** Per-arm ranks, when the server reports them. */
  ranks?: Record<string, number | null>
}

export interface RetrieveResult {
  collection: string
  mode: string
  passages: Passage[]
  usedTokens: number
}

export interface TaskDefinition {
  description: string
  systemPrompt: string
  retrieval: { collection?: string; k?: number; budgetTokens?: number; filters?: Record<string, unknown> }
  route: { strategy: string; foundationModel: string; fineTunedModel?: string; share?: number } & Record<
    string,
    unknown
  >
  output: { type: string } & Record<string, unknown>
  temperature?: number
  maxTokens?: number
}

export interface TaskVersion {
  task: string
  version: number
  active: boolean
  variables: string[]
  definition: TaskDefinition
  createdAt: string
}

export interface DryRun {
  dryRun: true
  task: { name: string; version: number }
  messages: { role: string; content: string }[]
  route: { model: string; strategy: string; reason: string; fallbackModel: string | null }
  droppedPassages: number
  citations: { n: number; documentId: number; sourceId: string; title: string; headingPath: string }[]
}

/** GET /v1/review-queue */
export interface ReviewQueueOverview {
  tasks: { name: string; waiting: number; heldByYou: number }[]
  you: { reviewed: number; approved: number; rejected: number; corrected: number; today: number }
}

export interface ReviewPassage {
  documentId: number
  sourceId: string
  title: string
  headingPath: string
  text: string
}

/** One item of POST /v1/review-queue/claim: blind (no model, route or system message). */
export interface ReviewItem {
  generationId: string
  leasedUntil: string
  task: { name: string; version: number }
  input: string | null
  variables: Record<string, string> | null
  conversation: { role: string; content: string }[]
  passages: ReviewPassage[]
  output: string | null
}

/** PUT /v1/generations/{id}/feedback: the route is revealed once the verdict is in. */
export interface FeedbackResult {
  generation: { id: string; reviewState: string; route: { model: string | null; arm: string | null } }
}

export interface DatasetFinding {
  rule: string
  /** `train:3`: the split and the line of its JSONL file; absent for whole-dataset findings. */
  line?: string
  generationId?: string
  message: string
}

/** POST /v1/tasks/{name}/datasets, GET /v1/datasets/{id} */
export interface Dataset {
  id: string
  task: string
  createdAt: string
  params: Record<string, unknown>
  baseModel: string
  status: 'invalid' | 'not_ready' | 'ready'
  counts: Record<string, number>
  tokenStats: Record<string, unknown>
  report: {
    errors?: DatasetFinding[]
    warnings?: DatasetFinding[]
    estimate?: {
      trainExamples: number
      epochs: number
      billedTokens: number
      trainingPricePer1M: number | null
      costUsd: number | null
    }
  }
  files: { train: string; validation: string; preference: string; manifest: string }
}

export interface Interval {
  low: number
  high: number
}

export interface EvalRate {
  passed: number
  decided: number
  rate: number | null
  interval: Interval | null
}

export interface EvalArm {
  name: string
  taskVersion: number
  model: string
  promptVariant: 'as_served' | 'fine_tuned'
  retrieval: 'on' | 'off'
}

export interface EvalAgreement {
  compared: number
  agreed: number
  rate: number | null
  interval: Interval | null
  judgeLenient: number
  judgeStrict: number
}

export interface EvalArmReport extends EvalArm {
  results: number
  failed: number
  checks: Record<string, EvalRate>
  passAll: EvalRate
  judge: { mean: number | null; interval: Interval | null; scored: number; unstableCases: number[] } | null
  pairwise: {
    against: string
    compared: number
    wins: number
    winRate: number | null
    interval: Interval | null
  } | null
  latencyMs: { p50: number | null; p95: number | null }
  tokens: { prompt: number; completion: number; meanPrompt: number | null; meanCompletion: number | null }
  cost: { totalUsd: number | null; perCaseUsd: number | null; pricedResults: number; unpricedResults: number }
  invalidCitations: number
  reviewerAgreement: EvalAgreement | null
}

export interface EvalRunSummary {
  id: string
  evalSetId: string
  set: { name: string; version: number }
  status: string
  progress: { done: number; total: number } | null
  stoppedReason: string | null
  arms: EvalArm[]
  judge: { model: string } | null
  repetitions: number
  createdAt: string
  finishedAt: string | null
}

export interface EvalRun {
  id: string
  evalSetId: string
  task: string
  status: string
  progress: {
    phase: string
    done: number
    total: number
    spentUsd?: number
    unpricedResults?: number
    etaSeconds: number | null
  } | null
  error: string | null
  stoppedReason: string | null
  createdAt: string
  finishedAt: string | null
  report: {
    arms: EvalArmReport[]
    reviewerAgreement: EvalAgreement | null
    differences: { ordinal: number; passShare: (number | null)[]; failedChecks: string[][] }[]
  }
  baseline: {
    runId: string
    arms: {
      name: string
      checks: Record<string, { rate: number | null; baseline: number | null; delta: number | null }>
    }[]
  } | null
}

export interface EvalSetCase {
  ordinal: number
  input: string
}

export interface RegisteredModel {
  id: string
  kind: 'foundation' | 'fine_tuned'
  baseModel: string | null
  baseURL: string | null
  inputPricePer1M: number | null
  outputPricePer1M: number | null
  trainingPricePer1M: number | null
  hostingPerHour: number | null
  priced: boolean
  callable: boolean
  contextWindow: number
  shutdownDate: string | null
  pricesAsOf: string | null
  fineTuneId: string | null
  datasetId: string | null
  source: string
}

export interface FineTune {
  id: string
  task: string
  datasetId: string
  baseModel: string
  suffix: string | null
  maxBudgetUsd: number
  estimatedCostUsd: number | null
  share: number
  status: string
  providerJobId: string | null
  fineTunedModel: string | null
  trainedTokens: number | null
  events: { id: string; at: string; level: string; message: string }[]
  checkpoints: { step: number; trainLoss: number | null; validLoss: number | null; at: string }[]
  error: string | null
  stagedVersion: number | null
  createdAt: string
  finishedAt: string | null
}

/** GET /v1/tasks/{name}/insights (the parts the console shows). */
export interface InsightsInterval {
  low: number
  high: number
}

export interface InsightsStats {
  calls: number
  failed: number
  fellBack: number
  fallbackRate: number | null
  costUsd: number | null
  costPerCallUsd: number | null
  unpricedCalls: number
  latencyMs: { p50: number | null; p95: number | null }
  review: {
    reviewed: number
    approved: number
    rejected: number
    corrected: number
    approvalRate: number | null
    approvalInterval: InsightsInterval | null
    correctionRate: number | null
  }
}

export interface TaskInsights {
  task: string
  activeVersion: number
  window: { days: number; coveredDays: number }
  volume: {
    calls: number
    failed: number
    callsPerDay: number
    projectedMonthly: number
    perDay: { date: string; calls: number; failed: number; costUsd: number | null }[]
  }
  arms: (InsightsStats & {
    arm: 'foundation' | 'fine_tuned'
    models: (InsightsStats & { model: string | null; evaluation: { passRate: number | null } | null })[]
  })[]
  examples: { clean: number; approved: number; corrected: number; target: number; missing: number }
  stability: { requirementChanges: number; changesPerWeek: number }
  candidate: { model: string; state: 'live' | 'staged'; version: number } | null
  breakEven: {
    priced: boolean
    blockedBy: string[]
    savingPerCallUsd: number | null
    trainingCostUsd: number | null
    /** Why trainingCostUsd is null (no priced model, no approved examples to estimate from, ...). */
    trainingUnknownBecause: string | null
    paybackDays: number | null
  }
  verdict: {
    decision: string
    summary: string
    reasons: { code: string; message: string; numbers: Record<string, number | string | boolean | null> }[]
  }
}
