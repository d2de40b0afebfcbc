import type pg from 'pg'
import { listEvalRuns, readEvalResults } from '../db/eval-runs.js'
import type { EvalRunParams } from '../evals/eval-run-request.js'
import { type ArmReport, buildReport } from '../evals/report.js'
import type { Interval } from '../evals/statistics.js'

/** Finished runs read, newest first, to find each model's latest score. */
const RUNS_READ = 5

export interface ModelEvaluation {
  runId: string
  createdAt: string
  arm: string
  promptVariant: 'as_served' | 'fine_tuned'
  /** Share of results that passed every decided check, with its 95% Wilson interval. */
  passRate: number | null
  interval: Interval | null
  decided: number
  judgeMean: number | null
}

export interface EvaluationComparison {
  runId: string
  candidate: { arm: string; rate: number | null; decided: number }
  foundation: { arm: string; rate: number | null; decided: number }
}

function view(runId: string, createdAt: Date, arm: ArmReport): ModelEvaluation {
  return {
    runId,
    createdAt: createdAt.toISOString(),
    arm: arm.name,
    promptVariant: arm.promptVariant,
    passRate: arm.passAll.rate,
    interval: arm.passAll.interval,
    decided: arm.passAll.decided,
    judgeMean: arm.judge?.mean ?? null,
  }
}

/**
 * Each model's score in the newest finished evaluation run of the task that has an arm on it, and the
 * newest run with an arm on both the candidate and the foundation model (the candidate's fine-tuned
 * prompt variant and the foundation's as-served one preferred when a run has several).
 */
export async function latestEvaluations(
  db: pg.Pool,
  taskId: number,
  modelIds: string[],
  pair: { candidate: string | undefined; foundation: string },
): Promise<{ byModel: Map<string, ModelEvaluation>; comparison: EvaluationComparison | null }> {
  const runs = (await listEvalRuns(db, { taskId }, 20))
    .filter((r) => r.status === 'succeeded')
    .slice(0, RUNS_READ)
  const byModel = new Map<string, ModelEvaluation>()
  let comparison: EvaluationComparison | null = null
  for (const run of runs) {
    const params = run.params as unknown as EvalRunParams
    const report = buildReport(params, await readEvalResults(db, run.id))
    for (const arm of report.arms)
      if (modelIds.includes(arm.model) && !byModel.has(arm.model))
        byModel.set(arm.model, view(run.id, run.createdAt, arm))
    const pick = (model: string, variant: ArmReport['promptVariant']) => {
      const arms = report.arms.filter((a) => a.model === model)
      return arms.find((a) => a.promptVariant === variant) ?? arms[0]
    }
    if (!comparison && pair.candidate !== undefined) {
      const candidate = pick(pair.candidate, 'fine_tuned')
      const foundation = pick(pair.foundation, 'as_served')
      if (candidate && foundation)
        comparison = {
          runId: run.id,
          candidate: {
            arm: candidate.name,
            rate: candidate.passAll.rate,
            decided: candidate.passAll.decided,
          },
          foundation: {
            arm: foundation.name,
            rate: foundation.passAll.rate,
            decided: foundation.passAll.decided,
          },
        }
    }
  }
  return { byModel, comparison }
}
