import { createHash } from 'node:crypto'
import type pg from 'pg'
import type { ApiKey } from '../auth/api-keys.js'
import {
  countEvaluationHeld,
  type DatasetCandidate,
  type DatasetRow,
  type ExampleRow,
  findDataset,
  findDatasetCandidates,
  insertDataset,
  insertExamples,
  listTaskDatasets,
} from '../db/datasets.js'
import type { StoredMessage } from '../db/generations.js'
import { findActiveTaskVersion, findTask } from '../db/tasks.js'
import { withTransaction } from '../db/transaction.js'
import { AppError } from '../errors.js'
import type { ModelRegistry } from '../generation/model-registry.js'
import { systemText } from '../generation/prompt.js'
import { encodingForModel } from '../tokens/tokenizer.js'
import type { BuildDatasetRequest } from './dataset-request.js'
import { type Finding, validateDataset } from './validate-dataset.js'

export interface DatasetView {
  id: string
  task: string
  createdAt: string
  params: Record<string, unknown>
  baseModel: string
  status: DatasetRow['status']
  counts: Record<string, number>
  tokenStats: Record<string, unknown>
  report: Record<string, unknown>
  files: { train: string; validation: string; preference: string; manifest: string }
}

export type BuildProgress = (step: string, done: number, total: number) => void

/**
 * A stable number in [0, 1) for a seed and a generation: the split is a pure function of both, so a
 * rebuild with the same seed puts every generation in the same split.
 */
export function splitBucket(seed: string, generationId: string): number {
  return createHash('sha256').update(`${seed}:${generationId}`).digest().readUIntBE(0, 6) / 2 ** 48
}

/** Same input, variables and conversation: the same example, whatever the output. */
function duplicateKey(candidate: DatasetCandidate): string {
  const variables = Object.entries(candidate.input.variables ?? {}).sort(([a], [b]) => a.localeCompare(b))
  const conversation = candidate.messages.filter((m, i) => !(i === 0 && m.role === 'system'))
  return createHash('sha256')
    .update(JSON.stringify([candidate.input.input ?? null, variables, conversation]))
    .digest('hex')
}

/** The prompt of a training example: as served, or the fine-tuned template over the STORED passages. */
function promptOf(
  candidate: DatasetCandidate,
  variant: BuildDatasetRequest['promptVariant'],
): StoredMessage[] {
  if (variant === 'as_served') return candidate.messages
  const template = candidate.fineTunedSystemPrompt
  if (template === null) {
    throw new AppError(
      'validation_failed',
      `Version ${candidate.taskVersion} of the task has no route.fineTunedSystemPrompt to render the fine_tuned variant with.`,
      {
        errors: [{ path: 'promptVariant', message: 'a selected task version has no fineTunedSystemPrompt' }],
      },
    )
  }
  const rest = candidate.messages.filter((m, i) => !(i === 0 && m.role === 'system'))
  const system = systemText(template, candidate.input.variables ?? {}, candidate.passages ?? [])
  return [{ role: 'system', content: system }, ...rest]
}

function stats(values: number[]): Record<string, number | null> {
  if (values.length === 0) return { count: 0, min: null, max: null, mean: null, median: null, total: 0 }
  const sorted = [...values].sort((a, b) => a - b)
  const total = sorted.reduce((sum, v) => sum + v, 0)
  const mid = Math.floor(sorted.length / 2)
  return {
    count: sorted.length,
    min: sorted[0]!,
    max: sorted.at(-1)!,
    mean: Math.round(total / sorted.length),
    median: sorted.length % 2 ? sorted[mid]! : Math.round((sorted[mid - 1]! + sorted[mid]!) / 2),
    total,
  }
}

/**
 * Build an immutable dataset of one task's reviewed generations: select, drop duplicates (newest kept),
 * split by a seeded hash, render each example (a correction replaces the output as the assistant
 * message), validate every line, and store lines, manifest and report in one transaction. Its
 * generations are recorded as used for training, so they can never become evaluation cases.
 */
export async function buildDataset(
  db: pg.Pool,
  models: Pick<ModelRegistry, 'training' | 'ensure' | 'get'>,
  /** The API key asking; undefined for the operator on the command line (no allowlist). */
  key: ApiKey | undefined,
  taskName: string,
  request: BuildDatasetRequest,
  onProgress: BuildProgress = () => {},
): Promise<DatasetView> {
  const task = await findTask(db, taskName, key?.collections)
  if (!task) throw new AppError('not_found', `No task named ${taskName}.`)
  const active = await findActiveTaskVersion(db, taskName)
  const baseModel = request.baseModel ?? active?.route.foundationModel
  if (!baseModel) throw new AppError('validation_failed', 'Name a baseModel: the task has no active version.')
  await models.ensure([baseModel])
  if (!models.get(baseModel)) {
    throw new AppError('validation_failed', `Unknown base model ${baseModel}: register it first.`, {
      errors: [{ path: 'baseModel', message: `no model ${baseModel} in the registry` }],
    })
  }
  const filter = {
    taskId: task.id,
    states: request.review === 'approved' ? (['approved'] as const) : (['approved', 'corrected'] as const),
    ...(request.versions ? { versions: request.versions } : {}),
    ...(request.since ? { since: new Date(request.since) } : {}),
    ...(request.minRating !== undefined ? { minRating: request.minRating } : {}),
    ...(key?.collections !== undefined ? { collections: key.collections } : {}),
  }
  onProgress('selecting', 0, 1)
  const candidates = await findDatasetCandidates(db, { ...filter, states: [...filter.states] })
  const seen = new Set<string>()
  const unique = candidates.filter((candidate) => {
    const k = duplicateKey(candidate)
    if (seen.has(k)) return false
    seen.add(k)
    return true
  })
  const examples: ExampleRow[] = []
  const next = { train: 0, validation: 0 }
  // Oldest first, so line numbers follow time.
  for (const [index, candidate] of [...unique].reverse().entries()) {
    const split = splitBucket(request.seed, candidate.id) < request.validationShare ? 'validation' : 'train'
    const prompt = promptOf(candidate, request.promptVariant)
    const answer = candidate.corrected ?? candidate.output
    examples.push({
      split,
      line: ++next[split],
      generationId: candidate.id,
      corrected: candidate.corrected !== null,
      tokens: 0,
      example: { messages: [...prompt, { role: 'assistant', content: answer }] },
      preference:
        candidate.corrected !== null && candidate.corrected !== candidate.output
          ? {
              input: { messages: prompt },
              preferred_output: [{ role: 'assistant', content: candidate.corrected }],
              non_preferred_output: [{ role: 'assistant', content: candidate.output }],
            }
          : null,
    })
    if (index % 100 === 0) onProgress('rendering', index, unique.length)
  }
  onProgress('validating', 0, examples.length)
  const training = models.training(baseModel)
  const validation = validateDataset({
    lines: examples.map((e) => ({
      split: e.split,
      line: e.line,
      generationId: e.generationId,
      value: e.example,
    })),
    encoding: encodingForModel(baseModel),
    exampleTokenLimit: training.exampleTokenLimit,
    ...(training.pricePer1M !== undefined ? { trainingPricePer1M: training.pricePer1M } : {}),
  })
  examples.forEach((e, i) => {
    e.tokens = validation.tokens[i] ?? 0
  })
  const status: DatasetRow['status'] =
    validation.errors.length > 0 ? 'invalid' : validation.ready ? 'ready' : 'not_ready'
  const split = (name: 'train' | 'validation') =>
    examples.filter((e) => e.split === name).map((e) => e.tokens)
  const counts = {
    candidates: candidates.length,
    duplicatesDropped: candidates.length - unique.length,
    heldForEvaluation: await countEvaluationHeld(db, { ...filter, states: [...filter.states] }),
    train: next.train,
    validation: next.validation,
    corrected: examples.filter((e) => e.corrected).length,
    preferencePairs: examples.filter((e) => e.preference !== null && e.split === 'train').length,
  }
  const report = {
    ready: validation.ready,
    errors: validation.errors.slice(0, 1000),
    errorCount: validation.errors.length,
    warnings: validation.warnings,
    exampleTokenLimit: training.exampleTokenLimit,
    estimate: validation.estimate,
  }
  onProgress('storing', 0, examples.length)
  const id = await withTransaction(db, async (client) => {
    const datasetId = await insertDataset(client, {
      taskId: task.id,
      params: { ...request, baseModel },
      baseModel,
      status,
      counts,
      tokenStats: { train: stats(split('train')), validation: stats(split('validation')) },
      report,
      createdBy: key?.id ?? null,
    })
    const { heldForEvaluation } = await insertExamples(client, datasetId, examples)
    if (heldForEvaluation.length > 0) {
      // An evaluation set took some of these generations while the dataset was being built.
      throw new AppError(
        'conflict',
        `${heldForEvaluation.length} of the selected generations became evaluation cases while the dataset was built; build it again.`,
      )
    }
    return datasetId
  })
  onProgress('done', examples.length, examples.length)
  return getDataset(db, key, id)
}

export async function getDataset(db: pg.Pool, key: ApiKey | undefined, id: string): Promise<DatasetView> {
  const row = await findDataset(db, id)
  // A key limited to some collections sees only the datasets it built (built from its collections).
  if (!row || (key?.collections !== undefined && row.createdBy !== key.id)) {
    throw new AppError('not_found', `No dataset ${id}.`)
  }
  return datasetView(row)
}

/** A task's datasets, newest first; a key limited to some collections sees only those it built. */
export async function listDatasets(
  db: pg.Pool,
  key: ApiKey | undefined,
  taskName: string,
  limit = 50,
): Promise<DatasetView[]> {
  if (!(await findTask(db, taskName, key?.collections)))
    throw new AppError('not_found', `No task named ${taskName}.`)
  const rows = await listTaskDatasets(db, {
    taskName,
    ...(key?.collections !== undefined ? { createdBy: key.id } : {}),
    limit,
  })
  return rows.map(datasetView)
}

function datasetView(row: DatasetRow): DatasetView {
  const base = `/v1/datasets/${row.id}`
  return {
    id: row.id,
    task: row.taskName,
    createdAt: row.createdAt.toISOString(),
    params: row.params,
    baseModel: row.baseModel,
    status: row.status,
    counts: row.counts,
    tokenStats: row.tokenStats,
    report: row.report,
    files: {
      train: `${base}/train.jsonl`,
      validation: `${base}/validation.jsonl`,
      preference: `${base}/preference.jsonl`,
      manifest: `${base}/manifest.jsonl`,
    },
  }
}

/** Exports are refused while the report has errors: nothing invalid leaves. */
export function assertExportable(dataset: DatasetView): void {
  if (dataset.status !== 'invalid') return
  const errors = (dataset.report.errors as Finding[]).slice(0, 20)
  throw new AppError(
    'conflict',
    `Dataset ${dataset.id} failed validation (${String(dataset.report.errorCount)} errors); fix the generations (correct or reject them) and build again.`,
    { errors: errors.map((e) => ({ path: e.line ?? 'dataset', message: `${e.rule}: ${e.message}` })) },
  )
}
