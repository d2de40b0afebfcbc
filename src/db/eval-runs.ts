import type { Queryable } from './transaction.js'

export interface EvalRunRow {
  id: string
  evalSetId: string
  jobId: string | null
  params: Record<string, unknown>
  baselineRunId: string | null
  stoppedReason: string | null
  createdBy: string | null
  createdAt: Date
}

export interface EvalResultRow {
  caseOrdinal: number
  arm: number
  repetition: number
  status: 'succeeded' | 'failed'
  output: string | null
  error: string | null
  model: string | null
  promptTokens: number | null
  completionTokens: number | null
  costUsd: number | null
  latencyMs: number | null
  invalidCitations: number[]
  citedPassages: number
  checks: unknown[]
  judge: Record<string, unknown> | null
  judgeCostUsd: number | null
}

const RUN_COLUMNS = `id, eval_set_id AS "evalSetId", job_id AS "jobId", params, baseline_run_id AS "baselineRunId",
  stopped_reason AS "stoppedReason", created_by AS "createdBy", created_at AS "createdAt"`

export async function insertEvalRun(
  db: Queryable,
  run: Pick<EvalRunRow, 'evalSetId' | 'params' | 'baselineRunId' | 'createdBy'>,
): Promise<EvalRunRow> {
  const { rows } = await db.query<EvalRunRow>(
    `INSERT INTO eval_runs (eval_set_id, params, baseline_run_id, created_by) VALUES ($1, $2::jsonb, $3, $4)
     RETURNING ${RUN_COLUMNS}`,
    [run.evalSetId, JSON.stringify(run.params), run.baselineRunId, run.createdBy],
  )
  return rows[0]!
}

export async function setEvalRunJob(db: Queryable, runId: string, jobId: string): Promise<void> {
  await db.query('UPDATE eval_runs SET job_id = $2 WHERE id = $1', [runId, jobId])
}

export async function setEvalRunStopped(db: Queryable, runId: string, reason: string): Promise<void> {
  await db.query('UPDATE eval_runs SET stopped_reason = $2 WHERE id = $1', [runId, reason])
}

export async function findEvalRun(db: Queryable, id: string): Promise<EvalRunRow | undefined> {
  const { rows } = await db.query<EvalRunRow>(`SELECT ${RUN_COLUMNS} FROM eval_runs WHERE id = $1`, [id])
  return rows[0]
}

/** Store one result; a result already stored for its key is kept (a resumed run never repeats one). */
export async function insertEvalResult(db: Queryable, runId: string, r: EvalResultRow): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO eval_results (run_id, case_ordinal, arm, repetition, status, output, error, model, prompt_tokens,
       completion_tokens, cost_usd, latency_ms, invalid_citations, cited_passages, checks, judge, judge_cost_usd)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::int[], $14, $15::jsonb, $16::jsonb, $17)
     ON CONFLICT (run_id, case_ordinal, arm, repetition) DO NOTHING`,
    [
      runId,
      r.caseOrdinal,
      r.arm,
      r.repetition,
      r.status,
      r.output,
      r.error,
      r.model,
      r.promptTokens,
      r.completionTokens,
      r.costUsd,
      r.latencyMs,
      r.invalidCitations,
      r.citedPassages,
      JSON.stringify(r.checks),
      r.judge === null ? null : JSON.stringify(r.judge),
      r.judgeCostUsd,
    ],
  )
  return (rowCount ?? 0) > 0
}

export async function readEvalResults(db: Queryable, runId: string): Promise<EvalResultRow[]> {
  const { rows } = await db.query<EvalResultRow>(
    `SELECT case_ordinal AS "caseOrdinal", arm, repetition, status, output, error, model,
       prompt_tokens AS "promptTokens", completion_tokens AS "completionTokens", cost_usd::float8 AS "costUsd",
       latency_ms AS "latencyMs", invalid_citations AS "invalidCitations", cited_passages AS "citedPassages",
       checks, judge, judge_cost_usd::float8 AS "judgeCostUsd"
     FROM eval_results WHERE run_id = $1 ORDER BY case_ordinal, arm, repetition`,
    [runId],
  )
  return rows
}

/** Record a pairwise verdict on a result (once: a resumed run skips results that have one). */
export async function setPairwise(
  db: Queryable,
  runId: string,
  key: { caseOrdinal: number; arm: number; repetition: number },
  pairwise: { against: number; score: number | null; swapped: boolean },
  costUsd: number | null,
): Promise<void> {
  await db.query(
    `UPDATE eval_results SET judge = coalesce(judge, '{}'::jsonb) || jsonb_build_object('pairwise', $5::jsonb),
       judge_cost_usd = CASE WHEN $6::numeric IS NULL THEN judge_cost_usd ELSE coalesce(judge_cost_usd, 0) + $6 END
     WHERE run_id = $1 AND case_ordinal = $2 AND arm = $3 AND repetition = $4 AND NOT (coalesce(judge, '{}'::jsonb) ? 'pairwise')`,
    [runId, key.caseOrdinal, key.arm, key.repetition, JSON.stringify(pairwise), costUsd],
  )
}

/** What reviewers said about outputs identical to a run's results: reviewed generations of the same task. */
export interface ReviewerVerdictRow {
  caseOrdinal: number
  arm: number
  repetition: number
  /** Reviewed generations with this exact output that reviewers approved as they were. */
  approved: number
  /** … that reviewers rejected or had to correct. */
  disapproved: number
}

export async function readReviewerVerdicts(db: Queryable, runId: string): Promise<ReviewerVerdictRow[]> {
  const { rows } = await db.query<ReviewerVerdictRow>(
    `SELECT r.case_ordinal AS "caseOrdinal", r.arm, r.repetition,
       count(*) FILTER (WHERE g.review_state = 'approved')::int AS approved,
       count(*) FILTER (WHERE g.review_state IN ('rejected', 'corrected'))::int AS disapproved
     FROM eval_results r
     JOIN eval_runs er ON er.id = r.run_id
     JOIN eval_sets s ON s.id = er.eval_set_id
     JOIN task_versions tv ON tv.task_id = s.task_id
     JOIN generations g ON g.task_version_id = tv.id AND g.review_state <> 'unreviewed' AND g.output = r.output
     WHERE r.run_id = $1 AND r.status = 'succeeded'
     GROUP BY r.case_ordinal, r.arm, r.repetition`,
    [runId],
  )
  return rows
}

/** A run in a list: its set and its job's status and counters, without the results. */
export interface EvalRunSummaryRow {
  id: string
  evalSetId: string
  setName: string
  setVersion: number
  params: Record<string, unknown>
  stoppedReason: string | null
  createdAt: Date
  status: string | null
  progress: Record<string, unknown> | null
  finishedAt: Date | null
}

/** The runs of a task's sets (of one set, if given), newest first. */
export async function listEvalRuns(
  db: Queryable,
  filter: { taskId: number; evalSetId?: string },
  limit: number,
): Promise<EvalRunSummaryRow[]> {
  const { rows } = await db.query<EvalRunSummaryRow>(
    `SELECT r.id, r.eval_set_id AS "evalSetId", s.name AS "setName", s.version AS "setVersion", r.params,
       r.stopped_reason AS "stoppedReason", r.created_at AS "createdAt", j.status, j.progress,
       j.finished_at AS "finishedAt"
     FROM eval_runs r JOIN eval_sets s ON s.id = r.eval_set_id LEFT JOIN ingest_jobs j ON j.id = r.job_id
     WHERE s.task_id = $1 AND ($2::uuid IS NULL OR r.eval_set_id = $2)
     ORDER BY r.created_at DESC LIMIT $3`,
    [filter.taskId, filter.evalSetId ?? null, limit],
  )
  return rows
}
