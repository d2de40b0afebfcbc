import type pg from 'pg'
import type { ApiKey } from '../auth/api-keys.js'
import { findEvalRun, insertEvalRun, setEvalRunJob } from '../db/eval-runs.js'
import { findEvalSet } from '../db/eval-sets.js'
import { insertKindJob } from '../db/ingest-jobs.js'
import { findTask, findTaskVersionRow } from '../db/tasks.js'
import { withTransaction } from '../db/transaction.js'
import { AppError } from '../errors.js'
import type { ModelRegistry } from '../generation/model-registry.js'
import type { CreateEvalRunRequest, EvalRunParams, ResolvedArm } from './eval-run-request.js'

/** The job kind evaluation runs are queued under (services.jobHandlers). */
export const EVAL_JOB_KIND = 'eval'

type Problem = { path: string; message: string }

/**
 * Check a run request against the set, the task's versions and the models Onbrand can call, then store
 * the run and queue its job in one transaction. Every problem is named at once (400).
 */
export async function createEvalRun(
  db: pg.Pool,
  models: Pick<ModelRegistry, 'resolve' | 'ensure' | 'get'>,
  key: ApiKey | undefined,
  request: CreateEvalRunRequest,
): Promise<{ runId: string; jobId: string }> {
  const set = await findEvalSet(db, request.evalSetId)
  const task = set ? await findTask(db, set.taskName, key?.collections) : undefined
  if (!set || !task) throw new AppError('not_found', `No evaluation set ${request.evalSetId}.`)
  const problems: Problem[] = []
  const arms: ResolvedArm[] = []
  const names = request.arms.map((arm, index) => arm.name ?? `arm${index + 1}`)
  for (const [index, arm] of request.arms.entries()) {
    const path = `arms.${index}`
    const versionNumber = arm.taskVersion ?? task.activeVersion
    const version = versionNumber === null ? undefined : await findTaskVersionRow(db, task.id, versionNumber)
    if (!version) {
      problems.push({
        path: `${path}.taskVersion`,
        message: `task ${task.name} has no version ${versionNumber ?? '(active)'}`,
      })
      continue
    }
    const model = arm.model ?? version.route.foundationModel
    await models.ensure([model])
    if (!models.get(model))
      problems.push({ path: `${path}.model`, message: `no model ${model} in the registry` })
    else if (!models.resolve(model))
      problems.push({ path: `${path}.model`, message: `no provider is configured for model ${model}` })
    if (arm.promptVariant === 'fine_tuned' && version.route.fineTunedSystemPrompt === undefined)
      problems.push({
        path: `${path}.promptVariant`,
        message: `version ${version.version} has no route.fineTunedSystemPrompt`,
      })
    arms.push({
      name: names[index]!,
      taskVersion: version.version,
      model,
      promptVariant: arm.promptVariant,
      retrieval: arm.retrieval,
    })
  }
  for (const [index, name] of names.entries())
    if (names.indexOf(name) !== index)
      problems.push({ path: `arms.${index}.name`, message: `${name} is used twice` })
  if (request.judge) await models.ensure([request.judge.model])
  if (request.judge && !models.get(request.judge.model))
    problems.push({ path: 'judge.model', message: `no model ${request.judge.model} in the registry` })
  else if (request.judge && !models.resolve(request.judge.model))
    problems.push({
      path: 'judge.model',
      message: `no provider is configured for model ${request.judge.model}`,
    })
  if (request.baselineRunId) {
    const baseline = await findEvalRun(db, request.baselineRunId)
    if (!baseline || baseline.evalSetId !== set.id)
      problems.push({ path: 'baselineRunId', message: 'no run of this evaluation set has this id' })
  }
  if (problems.length > 0)
    throw new AppError('validation_failed', 'The evaluation run cannot start.', { errors: problems })
  const params: EvalRunParams = {
    task: task.name,
    arms,
    judge: request.judge ?? null,
    repetitions: request.repetitions ?? (request.judge ? 3 : 1),
    budgetUsd: request.budgetUsd ?? null,
    concurrency: request.concurrency,
  }
  return withTransaction(db, async (client) => {
    const run = await insertEvalRun(client, {
      evalSetId: set.id,
      params: params as unknown as Record<string, unknown>,
      baselineRunId: request.baselineRunId ?? null,
      createdBy: key?.id ?? null,
    })
    const job = await insertKindJob(client, {
      kind: EVAL_JOB_KIND,
      options: { runId: run.id },
      createdBy: key?.id ?? null,
    })
    await setEvalRunJob(client, run.id, job.id)
    return { runId: run.id, jobId: job.id }
  })
}
