import { z } from '@hono/zod-openapi'
import type pg from 'pg'
import type { ApiKey } from '../auth/api-keys.js'
import { listEvalRuns } from '../db/eval-runs.js'
import { insertPromotion, listPromotions, type PromotionRow } from '../db/promotions.js'
import { findTask } from '../db/tasks.js'
import { withTransaction } from '../db/transaction.js'
import { AppError } from '../errors.js'
import { getEvalRun } from '../evals/get-eval-run.js'
import type { ArmReport } from '../evals/report.js'
import type { ModelRegistry } from '../generation/model-registry.js'
import { ModelId, type ModelRoute } from '../generation/routing.js'
import { getTaskVersion, putTask, rollBackTask } from '../tasks/manage-tasks.js'
import type { TaskVersion } from '../tasks/task-definition.js'

export const PromoteRequest = z
  .object({
    model: ModelId,
    strategy: z.enum(['fine_tuned', 'split', 'foundation']).openapi({
      description:
        '`fine_tuned`: the model serves every request, the active foundation model its fallback; `split`: it takes `share`; `foundation`: it becomes the foundation model',
    }),
    share: z.number().min(0).max(1).optional().openapi({ description: 'Required for `split`' }),
    force: z.boolean().default(false).openapi({
      description:
        'Promote although the latest evaluation is missing or says the model loses (recorded as forced)',
    }),
    reason: z.string().trim().min(1).max(2000).optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (body.strategy === 'split' && body.share === undefined)
      ctx.addIssue({ code: 'custom', path: ['share'], message: 'required for strategy split' })
  })
  .openapi('PromoteRequest')
export type PromoteRequest = z.infer<typeof PromoteRequest>

/** One side of the comparison: an arm of the evaluation run. */
export interface EvidenceArm {
  arm: string
  model: string
  taskVersion: number
  results: number
  /** Share of results that passed every decided check, with its 95% Wilson interval. */
  passAll: {
    rate: number | null
    passed: number
    decided: number
    interval: { low: number; high: number } | null
  }
  judgeMean: number | null
  costPerCaseUsd: number | null
}

export interface Evidence {
  /** `loses`: the model's pass rate is under the active model's by more than the margin. */
  verdict: 'wins' | 'ties' | 'loses' | 'none'
  detail: string
  margin: number
  runId?: string
  runCreatedAt?: string
  candidate?: EvidenceArm
  active?: EvidenceArm
}

export interface PromotionView extends Omit<PromotionRow, 'taskId' | 'createdAt'> {
  task: string
  createdAt: string
}

const view = (task: string, row: PromotionRow): PromotionView => {
  const { taskId: _id, ...rest } = row
  return { ...rest, task, createdAt: row.createdAt.toISOString() }
}

/** The model that serves most of the task's traffic under its route: the one a candidate must beat. */
export function servingModel(route: ModelRoute): string {
  return route.strategy === 'fine_tuned' && route.fineTunedModel
    ? route.fineTunedModel
    : route.foundationModel
}

/**
 * Move the task to `model` under `strategy`: a new active version with that route, recorded with who,
 * when and the evidence. Refused (409, with the numbers) when the latest finished evaluation run that
 * compares the model with the active route's model says it loses by more than `margin`, or when there
 * is none, unless forced.
 */
export async function promoteModel(
  db: pg.Pool,
  models: ModelRegistry,
  key: ApiKey,
  taskName: string,
  request: PromoteRequest,
  margin: number,
): Promise<{ promotion: PromotionView; version: TaskVersion }> {
  const active = await getTaskVersion(db, taskName, undefined, key)
  await models.assertRegistered([{ path: 'model', id: request.model }])
  const route = nextRoute(active.definition.route, request)
  const incumbent = servingModel(active.definition.route)
  if (sameRoute(route, active.definition.route))
    throw new AppError(
      'conflict',
      `Task ${taskName} already serves ${request.model} this way (version ${active.version}).`,
    )
  const task = (await findTask(db, taskName))!
  const evidence =
    request.model === incumbent
      ? {
          verdict: 'ties' as const,
          detail: `${request.model} already serves the task; only the strategy changes.`,
          margin,
        }
      : await findEvidence(db, key, task.id, request.model, incumbent, margin)
  const blocked = evidence.verdict === 'loses' || evidence.verdict === 'none'
  if (blocked && !request.force) {
    throw new AppError(
      'conflict',
      `${evidence.detail} Send "force": true to promote anyway (recorded as forced).`,
    )
  }
  return withTransaction(db, async (client) => {
    const { version } = await putTask(client, {
      models,
      name: taskName,
      definition: { ...active.definition, route },
      activate: true,
      createdBy: key.id,
      viewer: key,
    })
    const promotion = await insertPromotion(client, {
      taskId: task.id,
      action: 'promote',
      model: request.model,
      strategy: request.strategy,
      fromVersion: active.version,
      toVersion: version.version,
      forced: blocked,
      evidence: evidence as unknown as Record<string, unknown>,
      reason: request.reason ?? null,
      createdBy: key.id,
    })
    return { promotion: view(taskName, promotion), version: { ...version, active: true } }
  })
}

function sameRoute(a: ModelRoute, b: ModelRoute): boolean {
  return (
    a.strategy === b.strategy &&
    a.foundationModel === b.foundationModel &&
    a.fineTunedModel === b.fineTunedModel &&
    (a.strategy !== 'split' || a.share === b.share)
  )
}

function nextRoute(route: ModelRoute, request: PromoteRequest): ModelRoute {
  const { share: _share, ...rest } = route
  if (request.strategy === 'foundation')
    return { ...rest, strategy: 'foundation', foundationModel: request.model }
  if (request.strategy === 'fine_tuned')
    return { ...rest, strategy: 'fine_tuned', fineTunedModel: request.model }
  return { ...rest, strategy: 'split', fineTunedModel: request.model, share: request.share! }
}

/** The latest finished run of the task with an arm on each model, compared on the pass-all rate. */
export async function findEvidence(
  db: pg.Pool,
  key: ApiKey | undefined,
  taskId: number,
  candidate: string,
  incumbent: string,
  margin: number,
): Promise<Evidence> {
  const runs = await listEvalRuns(db, { taskId }, 200)
  for (const summary of runs) {
    if (summary.status !== 'succeeded' && summary.status !== 'succeeded_with_errors') continue
    const arms = (summary.params.arms as { model: string }[] | undefined) ?? []
    if (!arms.some((a) => a.model === candidate) || !arms.some((a) => a.model === incumbent)) continue
    const run = await getEvalRun(db, key, summary.id)
    const pick = (model: string) => run.report.arms.find((a) => a.model === model)!
    const c = evidenceArm(pick(candidate))
    const a = evidenceArm(pick(incumbent))
    const base = { margin, runId: run.id, runCreatedAt: run.createdAt, candidate: c, active: a }
    const pct = (arm: EvidenceArm) =>
      arm.passAll.rate === null
        ? 'no decided checks'
        : `${fmt(arm.passAll.rate)} (${arm.passAll.passed}/${arm.passAll.decided}${arm.passAll.interval ? `, 95% ${fmt(arm.passAll.interval.low)}–${fmt(arm.passAll.interval.high)}` : ''})`
    const numbers = `In evaluation run ${run.id}, ${candidate} passed every check in ${pct(c)}, the active ${incumbent} in ${pct(a)}; the margin is ${fmt(margin)}.`
    if (c.passAll.rate === null || a.passAll.rate === null)
      return { ...base, verdict: 'none', detail: `${numbers} Nothing to compare.` }
    const difference = c.passAll.rate - a.passAll.rate
    if (difference < -margin) return { ...base, verdict: 'loses', detail: `${numbers} ${candidate} loses.` }
    return { ...base, verdict: difference > margin ? 'wins' : 'ties', detail: numbers }
  }
  return {
    verdict: 'none',
    margin,
    detail: `No finished evaluation run of this task compares ${candidate} with the active ${incumbent}: run one with an arm on each (POST /v1/eval-runs).`,
  }
}

function evidenceArm(arm: ArmReport): EvidenceArm {
  return {
    arm: arm.name,
    model: arm.model,
    taskVersion: arm.taskVersion,
    results: arm.results,
    passAll: {
      rate: arm.passAll.rate,
      passed: arm.passAll.passed,
      decided: arm.passAll.decided,
      interval: arm.passAll.interval,
    },
    judgeMean: arm.judge?.mean ?? null,
    costPerCaseUsd: arm.cost.perCaseUsd,
  }
}

const fmt = (x: number) => `${Math.round(x * 1000) / 10}%`

/**
 * Roll back: right after a promotion, to the version that was active before it; otherwise to the newest
 * older version. Recorded beside the promotions.
 */
export async function rollBack(
  db: pg.Pool,
  key: ApiKey,
  taskName: string,
  reason?: string,
): Promise<TaskVersion> {
  return rollBackTask(db, taskName, key, {
    target: async (client, taskId, activeVersion) => {
      const [latest] = await listPromotions(client, taskId, 1)
      return latest?.action === 'promote' && latest.toVersion === activeVersion
        ? latest.fromVersion
        : undefined
    },
    done: async (client, taskId, from, to) => {
      await insertPromotion(client, {
        taskId,
        action: 'rollback',
        model: servingModel(to.route),
        strategy: to.route.strategy,
        fromVersion: from ?? to.version,
        toVersion: to.version,
        forced: false,
        evidence: {},
        reason: reason ?? null,
        createdBy: key.id,
      })
    },
  })
}

export async function listTaskPromotions(
  db: pg.Pool,
  key: ApiKey,
  taskName: string,
): Promise<PromotionView[]> {
  const task = await findTask(db, taskName, key.collections)
  if (!task) throw new AppError('not_found', `No task named ${taskName}.`)
  return (await listPromotions(db, task.id, 100)).map((row) => view(taskName, row))
}
