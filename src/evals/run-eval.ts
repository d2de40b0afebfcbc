import { createHash } from 'node:crypto'
import type pg from 'pg'
import type { Logger } from 'pino'
import { findCollectionByName } from '../db/collections.js'
import {
  type EvalResultRow,
  findEvalRun,
  insertEvalResult,
  readEvalResults,
  setEvalRunStopped,
  setPairwise,
} from '../db/eval-runs.js'
import { type EvalCaseRow, findEvalSet, readEvalCases } from '../db/eval-sets.js'
import type { IngestJobRow } from '../db/ingest-jobs.js'
import { findTaskVersionRow, type TaskVersionRow } from '../db/tasks.js'
import type { EmbedderFactory } from '../embedding/embedder.js'
import { AppError } from '../errors.js'
import { runGeneration } from '../generation/generate.js'
import { prepareGeneration } from '../generation/prepare.js'
import type { GenerationDeps, SharedGenerationDeps } from '../generation/types.js'
import type { JobHandler } from '../jobs/job-handler.js'
import { type JobCounters, startAttempt } from '../jobs/job-progress.js'
import { JobInputError, runKindJob } from '../jobs/run-kind-job.js'
import type { Metrics } from '../observability/metrics.js'
import { type Check, checkName } from './checks.js'
import type { EvalRunParams, ResolvedArm } from './eval-run-request.js'
import { judgePairwise, judgeRubric, type RubricVerdict } from './judge.js'
import { type CheckResult, runCheck } from './run-checks.js'
import { cosine } from './similarity.js'

export interface EvalDeps {
  db: pg.Pool
  logger: Logger
  metrics?: Metrics
  generation: SharedGenerationDeps
  embedders: EmbedderFactory
}

interface Unit {
  case: EvalCaseRow
  arm: number
  repetition: number
}

export interface EvalProgress extends JobCounters {
  spentUsd: number
  unpricedResults: number
}

/**
 * The handler of `eval` jobs: every case × arm × repetition not yet stored is generated through the same
 * code as /v1/generate (prepareGeneration, runGeneration), with bounded concurrency, checked and stored.
 * Evaluation calls are kept out of the serving data: no generations row (so no review queue and no
 * insights), no key charged, no serving metrics. A resumed run reads what is stored and skips it; a
 * result is stored once per key, so nothing is repeated. Before each call the run stops if the spend so
 * far, plus what the calls in flight and the next are estimated to cost (the mean of this arm's results
 * so far), would pass the budget.
 */
export function evalRunHandler(deps: EvalDeps): JobHandler {
  return (job, context) => runKindJob(deps, job, context, (io) => runEval(deps, job, io))
}

async function runEval(
  deps: EvalDeps,
  job: IngestJobRow,
  io: { signal: AbortSignal; save(progress: EvalProgress): Promise<void> },
): Promise<{ status: 'succeeded' | 'succeeded_with_errors' | 'cancelled'; error?: string }> {
  const run = await findEvalRun(deps.db, String(job.options.runId))
  if (!run) throw new JobInputError('The evaluation run of this job no longer exists.')
  const set = await findEvalSet(deps.db, run.evalSetId)
  if (!set) throw new JobInputError('The evaluation set of this run no longer exists.')
  const params = run.params as unknown as EvalRunParams
  const cases = await readEvalCases(deps.db, set.id)
  const versions: TaskVersionRow[] = []
  for (const arm of params.arms) {
    const version = await findTaskVersionRow(deps.db, set.taskId, arm.taskVersion)
    if (!version)
      throw new JobInputError(`Version ${arm.taskVersion} of task ${set.taskName} no longer exists.`)
    versions.push(version)
  }
  const stored = await readEvalResults(deps.db, run.id)
  const done = new Set(stored.map((r) => `${r.caseOrdinal}:${r.arm}:${r.repetition}`))
  const units: Unit[] = []
  for (let repetition = 0; repetition < params.repetitions; repetition++)
    for (const c of cases)
      for (let arm = 0; arm < params.arms.length; arm++)
        if (!done.has(`${c.ordinal}:${arm}:${repetition}`)) units.push({ case: c, arm, repetition })

  const total = cases.length * params.arms.length * params.repetitions
  const counters = startAttempt(job.progress, total, 'results')
  const progress: EvalProgress = {
    ...counters,
    phase: 'running',
    done: stored.length,
    attempt: { ...counters.attempt, doneAtStart: stored.length },
    spentUsd: 0,
    unpricedResults: 0,
  }
  const costs: number[][] = params.arms.map(() => [])
  // Results accounted per arm, priced or not: until an arm has one, its cost per call is unknown.
  const seen = params.arms.map(() => 0)
  const account = (r: Pick<EvalResultRow, 'arm' | 'costUsd' | 'judgeCostUsd' | 'status'>) => {
    seen[r.arm]!++
    if (r.costUsd !== null) costs[r.arm]!.push(r.costUsd + (r.judgeCostUsd ?? 0))
    else if (r.status === 'succeeded') progress.unpricedResults++
    progress.spentUsd += (r.costUsd ?? 0) + (r.judgeCostUsd ?? 0)
  }
  for (const r of stored) account(r)
  await io.save(progress)

  const embedder = await referenceEmbedder(deps, versions)
  const generation: GenerationDeps = {
    ...deps.generation,
    logger: deps.logger.child({ evalRun: run.id }, { level: 'warn' }),
    metrics: undefined,
    generationLog: { write: () => {} },
    rateLimiter: { chargeTokens: () => {} },
  }
  let inFlight = 0
  let stopped: string | undefined
  const estimate = (arm: number) => {
    const list = costs[arm]!
    return list.length === 0 ? 0 : list.reduce((s, v) => s + v, 0) / list.length
  }
  // With a budget, an arm's first call runs alone: the others wait for its cost before estimating theirs
  // (otherwise every worker would start at an estimate of 0 and a tiny budget could be passed N times over).
  const probes: (Promise<void> | undefined)[] = params.arms.map(() => undefined)
  let next = 0
  const worker = async () => {
    while (next < units.length && stopped === undefined) {
      io.signal.throwIfAborted()
      const unit = units[next++]!
      let probed: (() => void) | undefined
      if (params.budgetUsd !== null && seen[unit.arm] === 0) {
        const probe = probes[unit.arm]
        if (probe) await probe
        else probes[unit.arm] = new Promise((resolve) => (probed = resolve))
        if (stopped !== undefined) return
      }
      if (params.budgetUsd !== null) {
        const projected = progress.spentUsd + (inFlight + 1) * estimate(unit.arm)
        if (projected > params.budgetUsd) {
          stopped = `Stopped by the budget: $${progress.spentUsd.toFixed(4)} spent of $${params.budgetUsd}, and the next call was estimated to pass it.`
          probed?.()
          return
        }
      }
      inFlight++
      try {
        const result = await runUnit(generation, deps, params, versions[unit.arm]!, unit, embedder, io.signal)
        io.signal.throwIfAborted()
        if (await insertEvalResult(deps.db, run.id, result)) {
          account(result)
          progress.done++
        }
        await io.save(progress)
      } finally {
        inFlight--
        probed?.()
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(params.concurrency, Math.max(1, units.length)) }, worker))
  if (!stopped && params.judge && params.arms.length > 1) {
    progress.phase = 'pairwise'
    await io.save(progress)
    stopped = await comparePairs(generation, deps, run.id, params, cases, progress, io.signal)
  }
  progress.phase = stopped ? 'stopped' : 'done'
  await io.save(progress)
  if (stopped) {
    await setEvalRunStopped(deps.db, run.id, stopped)
    return { status: 'cancelled', error: stopped }
  }
  const failed = (await readEvalResults(deps.db, run.id)).filter((r) => r.status === 'failed').length
  return failed > 0
    ? { status: 'succeeded_with_errors', error: `${failed} of ${total} generations failed; see the report.` }
    : { status: 'succeeded' }
}

const DEFAULT_PAIRWISE_RUBRIC =
  "Which output better answers the input in the brand's voice, using only supported facts?"

/**
 * Each arm after the first against the first, per case and repetition, by the judge, the order of the
 * two outputs decided by a hash (so it is random across pairs yet the same on a resumed run). A pair
 * already judged is skipped. Returns why it stopped early (the budget), if it did.
 */
async function comparePairs(
  generation: GenerationDeps,
  deps: EvalDeps,
  runId: string,
  params: EvalRunParams,
  cases: EvalCaseRow[],
  progress: EvalProgress,
  signal: AbortSignal,
): Promise<string | undefined> {
  const results = await readEvalResults(deps.db, runId)
  const find = (ordinal: number, arm: number, repetition: number) =>
    results.find((r) => r.caseOrdinal === ordinal && r.arm === arm && r.repetition === repetition)
  for (const r of results) {
    if (r.arm === 0 || r.status !== 'succeeded' || (r.judge && 'pairwise' in r.judge)) continue
    const base = find(r.caseOrdinal, 0, r.repetition)
    if (base?.status !== 'succeeded') continue
    if (params.budgetUsd !== null && progress.spentUsd > params.budgetUsd)
      return `Stopped by the budget during pairwise judging: $${progress.spentUsd.toFixed(4)} spent of $${params.budgetUsd}.`
    signal.throwIfAborted()
    const item = cases.find((c) => c.ordinal === r.caseOrdinal)!
    const rubric = (item.checks as Check[]).find((c) => c.type === 'rubric')
    const swap =
      createHash('sha256').update(`${runId}:${r.caseOrdinal}:${r.repetition}:${r.arm}`).digest()[0]! % 2 === 1
    const { score, costUsd } = await judgePairwise(
      generation,
      params.judge!.model,
      {
        rubric: rubric?.type === 'rubric' ? rubric.rubric : DEFAULT_PAIRWISE_RUBRIC,
        input: item.input,
        baseline: base.output ?? '',
        challenger: r.output ?? '',
        swap,
      },
      signal,
    )
    await setPairwise(deps.db, runId, r, { against: 0, score, swapped: swap }, costUsd)
    progress.spentUsd += costUsd ?? 0
  }
  return undefined
}

/** The embedder of the (first) collection the arms' task versions retrieve from, for cosine similarity. */
async function referenceEmbedder(deps: EvalDeps, versions: TaskVersionRow[]) {
  const name = versions.find((v) => v.retrieval.collection !== undefined)?.retrieval.collection
  const collection = name ? await findCollectionByName(deps.db, name) : undefined
  return collection ? deps.embedders(collection.embeddingModel, collection.embeddingDimensions) : undefined
}

/** The task version as the arm serves it: its model only (no fallback), its template, retrieval or not. */
function armTask(version: TaskVersionRow, arm: ResolvedArm): TaskVersionRow {
  const retrieval =
    arm.retrieval === 'on' ? version.retrieval : { ...version.retrieval, collection: undefined }
  const route =
    arm.promptVariant === 'fine_tuned'
      ? {
          strategy: 'fine_tuned' as const,
          foundationModel: arm.model,
          fineTunedModel: arm.model,
          fineTunedSystemPrompt: version.route.fineTunedSystemPrompt,
        }
      : { strategy: 'foundation' as const, foundationModel: arm.model }
  return { ...version, retrieval, route }
}

async function runUnit(
  generation: GenerationDeps,
  deps: EvalDeps,
  params: EvalRunParams,
  version: TaskVersionRow,
  unit: Unit,
  embedder: ReturnType<EmbedderFactory>,
  signal: AbortSignal,
): Promise<EvalResultRow> {
  const arm = params.arms[unit.arm]!
  const task = armTask(version, arm)
  const key = { caseOrdinal: unit.case.ordinal, arm: unit.arm, repetition: unit.repetition }
  const failed = (error: string): EvalResultRow => ({
    ...key,
    status: 'failed',
    output: null,
    error,
    model: arm.model,
    promptTokens: null,
    completionTokens: null,
    costUsd: null,
    latencyMs: null,
    invalidCitations: [],
    citedPassages: 0,
    checks: [],
    judge: null,
    judgeCostUsd: null,
  })
  let result: Awaited<ReturnType<typeof runGeneration>>
  try {
    const prepared = await prepareGeneration(
      { ...generation, tasks: { get: async () => task } },
      {
        task: task.taskName,
        input: unit.case.input,
        variables: unit.case.variables,
        ...(unit.case.subject !== null ? { subject: unit.case.subject } : {}),
        requestId: `eval-${unit.case.ordinal}-${unit.arm}-${unit.repetition}`,
        endpoint: 'generate',
      },
      signal,
    )
    // The arm measures its own model: the fine-tuned variant does not fall back to another.
    const { fallbackPrompt: _unused, ...rest } = prepared
    result = await runGeneration(
      generation,
      { ...rest, decision: { ...prepared.decision, fallbackModel: undefined } },
      signal,
    )
  } catch (error) {
    if (signal.aborted) throw error
    if (error instanceof AppError) return failed(error.message)
    throw error
  }
  const checks = unit.case.checks as Check[]
  let cosineScore: number | undefined
  if (
    embedder &&
    unit.case.reference !== null &&
    checks.some((c) => c.type === 'similarity' && c.metric === 'cosine')
  ) {
    const [a, b] = await embedder.embedDocuments([result.output, unit.case.reference], { signal })
    cosineScore = cosine(a!, b!)
  }
  const judge: Record<string, RubricVerdict | null> = {}
  let judgeCost: number | null = null
  if (params.judge) {
    for (const check of checks) {
      if (check.type !== 'rubric') continue
      const { verdict, costUsd } = await judgeRubric(
        generation,
        params.judge.model,
        {
          rubric: check.rubric,
          input: unit.case.input,
          reference: unit.case.reference,
          output: result.output,
        },
        signal,
      )
      judge[checkName(check)] = verdict
      if (costUsd !== null) judgeCost = (judgeCost ?? 0) + costUsd
    }
  }
  const rubricScores = Object.fromEntries(
    Object.entries(judge).flatMap(([name, v]) => (v ? [[name, v.score]] : [])),
  )
  const citedPassages = result.citations.filter((c) => c.cited).length
  const checked: CheckResult[] = checks.map((check) =>
    runCheck(check, {
      output: result.output,
      reference: unit.case.reference,
      invalidCitations: result.invalidCitations,
      citedPassages,
      costUsd: result.usage.costUsd,
      latencyMs: result.latencyMs,
      ...(cosineScore !== undefined ? { cosine: cosineScore } : {}),
      rubricScores,
    }),
  )
  deps.logger.debug({ case: unit.case.ordinal, arm: arm.name }, 'evaluation result')
  return {
    ...key,
    status: 'succeeded',
    output: result.output,
    error: null,
    model: result.route.model,
    promptTokens: result.usage.promptTokens,
    completionTokens: result.usage.completionTokens,
    costUsd: result.usage.costUsd,
    latencyMs: result.latencyMs,
    invalidCitations: result.invalidCitations,
    citedPassages,
    checks: checked,
    judge: params.judge ? judge : null,
    judgeCostUsd: judgeCost,
  }
}
