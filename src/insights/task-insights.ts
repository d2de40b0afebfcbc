import type pg from 'pg'
import type { CollectionAllowlist } from '../collections/access.js'
import { defaultEpochs } from '../datasets/validate-dataset.js'
import { findDataset, listTaskDatasets } from '../db/datasets.js'
import {
  type ArmStatsRow,
  countCleanExamples,
  type InsightsRange,
  readArmStats,
  readDailyVolume,
  rolledBackVersions,
  samplePrompts,
} from '../db/insights.js'
import { findTask, listTaskVersionRows, type TaskVersionRow } from '../db/tasks.js'
import { AppError } from '../errors.js'
import { wilson } from '../evals/statistics.js'
import type { ModelRegistry } from '../generation/model-registry.js'
import { type BreakEvenInput, breakEven } from './break-even.js'
import type { TaskInsights } from './insights-view.js'
import { latestEvaluations } from './latest-evaluations.js'
import { composition, templateSaving } from './prompt-composition.js'
import { type ApprovalFacts, decideVerdict, RULES, type VerdictFacts } from './verdict.js'

const DAY_MS = 86_400_000
/** Prompts measured per template for the composition (the newest of the window). */
const COMPOSITION_SAMPLE = 100

export interface InsightsDeps {
  db: pg.Pool
  models: Pick<ModelRegistry, 'ensure' | 'get'>
}

export interface InsightsRequest {
  task: string
  windowDays: number
  /** The key's collection allowlist: a limited key sees the tasks and generations of its collections. */
  viewer?: CollectionAllowlist
  now?: Date
}

function daysUntil(date: string | null, now: Date): number | null {
  if (date === null) return null
  return Math.ceil((Date.parse(`${date}T00:00:00Z`) - now.getTime()) / DAY_MS)
}

const roundMs = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : Math.round(ms))

function groupStats(row: ArmStatsRow | undefined) {
  const calls = row?.calls ?? 0
  const approved = row?.approved ?? 0
  const rejected = row?.rejected ?? 0
  const corrected = row?.corrected ?? 0
  const reviewed = approved + rejected + corrected
  const unpriced = row?.unpricedCalls ?? 0
  const cost = unpriced > 0 || calls === 0 ? null : Math.round((row?.costUsd ?? 0) * 1e8) / 1e8
  return {
    calls,
    failed: row?.failed ?? 0,
    fellBack: row?.fellBack ?? 0,
    fallbackRate: calls === 0 ? null : (row?.fellBack ?? 0) / calls,
    costUsd: cost,
    costPerCallUsd: cost === null ? null : Math.round((cost / calls) * 1e8) / 1e8,
    unpricedCalls: unpriced,
    meanPromptTokens: row?.meanPromptTokens ?? null,
    meanCompletionTokens: row?.meanCompletionTokens ?? null,
    latencyMs: { p50: roundMs(row?.p50LatencyMs), p95: roundMs(row?.p95LatencyMs) },
    review: {
      reviewed,
      approved,
      rejected,
      corrected,
      approvalRate: reviewed === 0 ? null : approved / reviewed,
      approvalInterval: wilson(approved, reviewed),
      correctionRate: reviewed === 0 ? null : corrected / reviewed,
    },
  }
}

function approvalFacts(stats: ReturnType<typeof groupStats>): ApprovalFacts {
  const r = stats.review
  return { reviewed: r.reviewed, approved: r.approved, rate: r.approvalRate, interval: r.approvalInterval }
}

/** A requirement change: a version whose instructions or output format differ from the version before. */
function requirementChanges(versions: TaskVersionRow[], from: Date) {
  return versions.map((v, i) => {
    const before = versions[i - 1]
    const change: 'first' | 'requirements' | 'other' = !before
      ? 'first'
      : before.systemPrompt !== v.systemPrompt || JSON.stringify(before.output) !== JSON.stringify(v.output)
        ? 'requirements'
        : 'other'
    return { version: v.version, createdAt: v.createdAt, inWindow: v.createdAt >= from, change }
  })
}

/**
 * The fine-tuned model the verdict is about: the one serving, else one staged in a newer version (not one
 * rolled back from: that model was tried and withdrawn).
 */
function findCandidate(versions: TaskVersionRow[], active: TaskVersionRow, rolledBack: number[]) {
  const route = active.route
  const serving =
    route.fineTunedModel !== undefined &&
    (route.strategy === 'fine_tuned' || (route.strategy === 'split' && (route.share ?? 0) > 0))
  if (serving)
    return {
      model: route.fineTunedModel!,
      state: 'live' as const,
      strategy: route.strategy as 'fine_tuned' | 'split',
      version: active,
    }
  const staged = versions
    .filter(
      (v) =>
        v.version > active.version && v.route.fineTunedModel !== undefined && !rolledBack.includes(v.version),
    )
    .at(-1)
  if (staged)
    return {
      model: staged.route.fineTunedModel!,
      state: 'staged' as const,
      strategy: staged.route.strategy === 'fine_tuned' ? ('fine_tuned' as const) : ('split' as const),
      version: staged,
    }
  return undefined
}

export async function getTaskInsights(deps: InsightsDeps, request: InsightsRequest): Promise<TaskInsights> {
  const { db, models } = deps
  const now = request.now ?? new Date()
  const task = await findTask(db, request.task, request.viewer?.collections)
  if (!task) throw new AppError('not_found', `No task named ${request.task}.`)
  const versions = await listTaskVersionRows(db, task.id)
  const active = versions.find((v) => v.active) ?? versions.at(-1)
  if (!active) throw new AppError('not_found', `Task ${request.task} has no versions.`)
  const from = new Date(now.getTime() - request.windowDays * DAY_MS)
  const range: InsightsRange = {
    versionIds: versions.map((v) => v.id),
    from,
    to: now,
    ...(request.viewer?.collections !== undefined ? { collections: request.viewer.collections } : {}),
  }
  const [stats, daily, clean, [latestDataset], foundationSamples, fineTunedSamples] = await Promise.all([
    readArmStats(db, range),
    readDailyVolume(db, range),
    countCleanExamples(db, range.versionIds, range.collections),
    listTaskDatasets(db, { taskName: task.name, limit: 1 }),
    samplePrompts(db, range, 'foundation', COMPOSITION_SAMPLE),
    samplePrompts(db, range, 'fine_tuned', COMPOSITION_SAMPLE),
  ])
  const candidate = findCandidate(versions, active, await rolledBackVersions(db, task.id))
  const foundationModel = active.route.foundationModel
  const targetModel = candidate?.model ?? latestDataset?.baseModel ?? foundationModel
  const seen = stats.filter((s) => s.level === 0 && s.model !== null).map((s) => s.model!)
  await models.ensure([foundationModel, targetModel, ...seen])

  // Volume.
  const total = stats.find((s) => s.level === 3)
  const calls = total?.calls ?? 0
  const firstAt = total?.firstAt ?? null
  const coveredDays =
    firstAt === null
      ? request.windowDays
      : Math.min(request.windowDays, Math.max(1, Math.ceil((now.getTime() - firstAt.getTime()) / DAY_MS)))
  const callsPerDay = calls / coveredDays
  const projectedMonthly = Math.round(callsPerDay * 30)

  // Arms and models.
  const evaluations = await latestEvaluations(
    db,
    task.id,
    [...new Set([foundationModel, targetModel, ...seen])],
    {
      candidate: candidate?.model,
      foundation: foundationModel,
    },
  )
  const modelFacts = (id: string) => {
    const row = models.get(id)
    return {
      kind: row?.kind ?? null,
      priced: row ? row.inputPricePer1M !== null && row.outputPricePer1M !== null : false,
      shutdownDate: row?.shutdownDate ?? null,
      daysUntilShutdown: daysUntil(row?.shutdownDate ?? null, now),
    }
  }
  const arms = (['foundation', 'fine_tuned'] as const).map((arm) => ({
    arm,
    ...groupStats(stats.find((s) => s.level === 1 && s.arm === arm)),
    models: stats
      .filter((s) => s.level === 0 && s.arm === arm)
      .map((s) => ({
        model: s.model,
        ...(s.model !== null
          ? modelFacts(s.model)
          : { kind: null, priced: false, shutdownDate: null, daysUntilShutdown: null }),
        ...groupStats(s),
        evaluation: s.model !== null ? (evaluations.byModel.get(s.model) ?? null) : null,
      })),
  }))
  const armRow = (arm: string, model: string) =>
    stats.find((s) => s.level === 0 && s.arm === arm && s.model === model)

  // Prompt composition and the fine-tuned template's saving.
  const templateVersion = candidate?.version ?? active
  const [foundationComposition, fineTunedComposition, saving] = await Promise.all([
    composition('foundation', foundationSamples, foundationModel),
    composition('fine_tuned', fineTunedSamples, targetModel),
    templateSaving(
      templateVersion.systemPrompt,
      templateVersion.route.fineTunedSystemPrompt,
      foundationModel,
    ),
  ])

  // Money.
  const baseRow = armRow('foundation', foundationModel)
  const tunedRow = candidate ? armRow('fine_tuned', candidate.model) : undefined
  const saved = saving.savedTokens ?? 0
  const observed = (row: ArmStatsRow | undefined) =>
    row && row.ownCalls > 0 && row.meanPromptTokens !== null && row.meanCompletionTokens !== null
      ? { prompt: row.meanPromptTokens, completion: row.meanCompletionTokens }
      : undefined
  const baseTokens =
    observed(baseRow) ??
    (observed(tunedRow)
      ? { prompt: observed(tunedRow)!.prompt + saved, completion: observed(tunedRow)!.completion }
      : undefined)
  const tunedTokens =
    observed(tunedRow) ??
    (baseTokens
      ? { prompt: Math.max(0, baseTokens.prompt - saved), completion: baseTokens.completion }
      : undefined)
  const foundationInfo = models.get(foundationModel)
  const targetInfo = models.get(targetModel)
  const tunedPrices = candidate
    ? { input: targetInfo?.inputPricePer1M ?? null, output: targetInfo?.outputPricePer1M ?? null }
    : {
        input: targetInfo?.fineTunedInputPricePer1M ?? null,
        output: targetInfo?.fineTunedOutputPricePer1M ?? null,
      }
  const training = await trainingCost(db, models, {
    datasetId: candidate ? (targetInfo?.datasetId ?? null) : null,
    latestDataset: latestDataset ?? null,
    clean: clean.approved + clean.corrected,
    meanTokens: clean.meanTokens,
    baseModel: candidate ? (targetInfo?.baseModel ?? foundationModel) : targetModel,
  })
  const moneyInput: BreakEvenInput = {
    projectedMonthly,
    callsPerDay,
    base: {
      model: foundationModel,
      inputPer1M: foundationInfo?.inputPricePer1M ?? null,
      outputPer1M: foundationInfo?.outputPricePer1M ?? null,
      promptTokens: baseTokens?.prompt ?? null,
      completionTokens: baseTokens?.completion ?? null,
    },
    fineTuned: {
      model: targetModel,
      ...(candidate ? {} : { label: `A model fine-tuned from ${targetModel} (its fine-tuned prices)` }),
      inputPer1M: tunedPrices.input,
      outputPer1M: tunedPrices.output,
      hostingPerHour: candidate ? (targetInfo?.hostingPerHour ?? null) : null,
      promptTokens: tunedTokens?.prompt ?? null,
      completionTokens: tunedTokens?.completion ?? null,
    },
    training,
  }
  const money = breakEven(moneyInput)

  // Stability and examples.
  const changes = requirementChanges(versions, from)
  const requirementChangesInWindow = changes.filter((c) => c.inWindow && c.change === 'requirements').length
  const cleanExamples = clean.approved + clean.corrected

  const candidateArm = groupStats(stats.find((s) => s.level === 1 && s.arm === 'fine_tuned'))
  const foundationArm = groupStats(stats.find((s) => s.level === 1 && s.arm === 'foundation'))
  const facts: VerdictFacts = {
    windowDays: request.windowDays,
    calls,
    projectedMonthly,
    requirementChanges: requirementChangesInWindow,
    cleanExamples,
    candidate: candidate
      ? { model: candidate.model, state: candidate.state, strategy: candidate.strategy }
      : null,
    evaluation: evaluations.comparison,
    approval: { candidate: approvalFacts(candidateArm), foundation: approvalFacts(foundationArm) },
    fallback: { calls: candidateArm.calls, fellBack: candidateArm.fellBack },
    candidateShutdownDays: candidate ? daysUntil(targetInfo?.shutdownDate ?? null, now) : null,
    baseShutdownDays: daysUntil(targetInfo?.shutdownDate ?? null, now),
    money,
  }

  return {
    task: task.name,
    activeVersion: active.version,
    generatedAt: now.toISOString(),
    window: { days: request.windowDays, from: from.toISOString(), to: now.toISOString(), coveredDays },
    volume: {
      calls,
      failed: total?.failed ?? 0,
      callsPerDay: Math.round(callsPerDay * 10) / 10,
      projectedMonthly,
      perDay: fillDays(daily, from, now),
    },
    arms,
    promptComposition: {
      byTemplate: [foundationComposition, fineTunedComposition],
      template: saving,
      savedUsdPerCall:
        saving.savedTokens !== null && tunedPrices.input !== null
          ? Math.round(((saving.savedTokens * tunedPrices.input) / 1e6) * 1e8) / 1e8
          : null,
    },
    examples: {
      clean: cleanExamples,
      approved: clean.approved,
      corrected: clean.corrected,
      target: RULES.readyExamples,
      missing: Math.max(0, RULES.readyExamples - cleanExamples),
      latestDataset: latestDataset
        ? {
            id: latestDataset.id,
            status: latestDataset.status,
            baseModel: latestDataset.baseModel,
            train: latestDataset.counts.train ?? 0,
            validation: latestDataset.counts.validation ?? 0,
            estimatedTrainingUsd: datasetEstimate(latestDataset.report),
          }
        : null,
    },
    stability: {
      versionsInWindow: changes.filter((c) => c.inWindow).length,
      requirementChanges: requirementChangesInWindow,
      changesPerWeek: Math.round(((requirementChangesInWindow * 7) / request.windowDays) * 100) / 100,
      versions: changes
        .filter((c) => c.inWindow)
        .map((c) => ({ version: c.version, createdAt: c.createdAt.toISOString(), change: c.change })),
    },
    models: [...new Set([foundationModel, ...(candidate ? [candidate.model] : []), ...seen])].map((id) => ({
      id,
      role: id === foundationModel ? 'foundation' : id === candidate?.model ? 'candidate' : 'seen',
      ...modelFacts(id),
    })),
    candidate: candidate
      ? {
          model: candidate.model,
          state: candidate.state,
          strategy: candidate.strategy,
          version: candidate.version.version,
        }
      : null,
    evaluation: evaluations.comparison,
    breakEven: {
      ...money,
      fineTunedModel: targetModel,
      fineTunedTokens: tunedTokens ?? null,
      baseTokens: baseTokens ?? null,
    },
    verdict: decideVerdict(facts),
  }
}

function datasetEstimate(report: Record<string, unknown>): number | null {
  const estimate = report.estimate as { costUsd?: number | null } | undefined
  return estimate?.costUsd ?? null
}

/** The cost of training the fine-tuned model: its dataset's estimate, else the newest dataset's, else an estimate. */
async function trainingCost(
  db: pg.Pool,
  models: InsightsDeps['models'],
  input: {
    datasetId: string | null
    latestDataset: { id: string; baseModel: string; report: Record<string, unknown> } | null
    clean: number
    meanTokens: number | null
    baseModel: string
  },
): Promise<BreakEvenInput['training']> {
  const dataset = input.datasetId
    ? await findDataset(db, input.datasetId)
    : (input.latestDataset ?? undefined)
  if (dataset) {
    const costUsd = datasetEstimate(dataset.report)
    return costUsd !== null
      ? { costUsd, source: 'dataset' }
      : {
          costUsd: null,
          source: 'dataset',
          unknownBecause: `dataset ${dataset.id} has no cost estimate: ${dataset.baseModel} has no training price in the model registry`,
        }
  }
  await models.ensure([input.baseModel])
  const price = models.get(input.baseModel)?.trainingPricePer1M ?? null
  if (price === null)
    return {
      costUsd: null,
      source: 'none',
      unknownBecause: `${input.baseModel} has no training price in the model registry`,
    }
  if (input.clean === 0 || input.meanTokens === null)
    return {
      costUsd: null,
      source: 'none',
      unknownBecause: 'no approved examples to estimate the training from',
    }
  const tokens = input.clean * input.meanTokens * defaultEpochs(input.clean)
  return { costUsd: (tokens * price) / 1e6, source: 'estimate' }
}

/** Every UTC day of the window, days without calls included. */
function fillDays(
  rows: { day: string; calls: number; failed: number; costUsd: number | null; unpricedCalls: number }[],
  from: Date,
  to: Date,
) {
  const byDay = new Map(rows.map((r) => [r.day, r]))
  const days = []
  for (let t = Date.parse(from.toISOString().slice(0, 10)); t <= to.getTime(); t += DAY_MS) {
    const day = new Date(t).toISOString().slice(0, 10)
    const row = byDay.get(day)
    days.push({
      date: day,
      calls: row?.calls ?? 0,
      failed: row?.failed ?? 0,
      // A day with an unpriced call has no total: unknown is not free.
      costUsd:
        row === undefined ? 0 : row.unpricedCalls > 0 ? null : Math.round((row.costUsd ?? 0) * 1e8) / 1e8,
    })
  }
  return days
}
