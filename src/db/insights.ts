import type { StoredMessage, StoredPassage } from './generations.js'
import type { Queryable } from './transaction.js'

/** The generations an insights report reads: a task's versions, a time range, and a key's allowlist. */
export interface InsightsRange {
  versionIds: number[]
  from: Date
  to: Date
  /** Only generations of these collections (a key's allowlist); absent: every generation. */
  collections?: string[]
}

/** One group of generations: an arm, or an arm and the model that answered (a fallback's model is the foundation). */
export interface ArmStatsRow {
  arm: 'foundation' | 'fine_tuned' | null
  /** Null on the arm's total row (and on the grand total). */
  model: string | null
  /** 0: (arm, model); 1: the arm's total; 3: every generation. */
  level: number
  calls: number
  failed: number
  fellBack: number
  /** Sum of the costs known; see unpricedCalls. */
  costUsd: number | null
  /** Calls that used tokens but have no cost: their model was not priced (never counted as free). */
  unpricedCalls: number
  /** Succeeded calls that are not fallbacks, with their mean usage (what the arm's own model costs). */
  ownCalls: number
  meanPromptTokens: number | null
  meanCompletionTokens: number | null
  p50LatencyMs: number | null
  p95LatencyMs: number | null
  approved: number
  rejected: number
  corrected: number
  firstAt: Date | null
}

function rangeWhere(range: InsightsRange, params: unknown[]): string {
  params.push(range.versionIds, range.from, range.to)
  let where = `g.task_version_id = ANY ($${params.length - 2}::bigint[])
    AND g.created_at >= $${params.length - 1} AND g.created_at < $${params.length}`
  if (range.collections !== undefined) {
    params.push(range.collections)
    where += ` AND g.collection_id IN (SELECT id FROM collections WHERE name = ANY ($${params.length}::text[]))`
  }
  return where
}

/**
 * Calls, cost, usage, latency, fallbacks and reviews per arm and model, per arm, and in total: one pass
 * over the task's generations in the range (index generations_task_idx: task version, created_at).
 * Rows written before arms were recorded count as the foundation arm.
 */
export async function readArmStats(db: Queryable, range: InsightsRange): Promise<ArmStatsRow[]> {
  const params: unknown[] = []
  const where = rangeWhere(range, params)
  const own = `g.status = 'succeeded' AND NOT g.fell_back`
  const { rows } = await db.query<ArmStatsRow>(
    `SELECT coalesce(g.route_arm, 'foundation') AS arm, g.model,
       (GROUPING(coalesce(g.route_arm, 'foundation')) * 2 + GROUPING(g.model))::int AS level,
       count(*)::int AS calls,
       count(*) FILTER (WHERE g.status = 'failed')::int AS failed,
       count(*) FILTER (WHERE g.fell_back)::int AS "fellBack",
       sum(g.cost_usd)::float8 AS "costUsd",
       count(*) FILTER (WHERE g.cost_usd IS NULL AND g.prompt_tokens IS NOT NULL)::int AS "unpricedCalls",
       count(*) FILTER (WHERE ${own} AND g.prompt_tokens IS NOT NULL)::int AS "ownCalls",
       (avg(g.prompt_tokens) FILTER (WHERE ${own}))::float8 AS "meanPromptTokens",
       (avg(g.completion_tokens) FILTER (WHERE ${own}))::float8 AS "meanCompletionTokens",
       (percentile_cont(0.5) WITHIN GROUP (ORDER BY g.latency_ms) FILTER (WHERE g.status = 'succeeded'))::float8
         AS "p50LatencyMs",
       (percentile_cont(0.95) WITHIN GROUP (ORDER BY g.latency_ms) FILTER (WHERE g.status = 'succeeded'))::float8
         AS "p95LatencyMs",
       count(*) FILTER (WHERE g.review_state = 'approved')::int AS approved,
       count(*) FILTER (WHERE g.review_state = 'rejected')::int AS rejected,
       count(*) FILTER (WHERE g.review_state = 'corrected')::int AS corrected,
       min(g.created_at) AS "firstAt"
     FROM generations g
     WHERE ${where}
     GROUP BY GROUPING SETS ((coalesce(g.route_arm, 'foundation'), g.model), (coalesce(g.route_arm, 'foundation')), ())
     ORDER BY level DESC, arm, g.model`,
    params,
  )
  // The grand total's arm is NULL in SQL: keep it so.
  return rows.map((row) => (row.level === 3 ? { ...row, arm: null } : row))
}

export interface DailyVolumeRow {
  /** YYYY-MM-DD, UTC. */
  day: string
  calls: number
  failed: number
  costUsd: number | null
  unpricedCalls: number
}

export async function readDailyVolume(db: Queryable, range: InsightsRange): Promise<DailyVolumeRow[]> {
  const params: unknown[] = []
  const where = rangeWhere(range, params)
  const { rows } = await db.query<DailyVolumeRow>(
    `SELECT to_char(g.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*)::int AS calls,
       count(*) FILTER (WHERE g.status = 'failed')::int AS failed, sum(g.cost_usd)::float8 AS "costUsd",
       count(*) FILTER (WHERE g.cost_usd IS NULL AND g.prompt_tokens IS NOT NULL)::int AS "unpricedCalls"
     FROM generations g WHERE ${where}
     GROUP BY 1 ORDER BY 1`,
    params,
  )
  return rows
}

export interface CleanExamplesRow {
  approved: number
  corrected: number
  /** Mean prompt + completion tokens of those examples (what training would bill per epoch). */
  meanTokens: number | null
}

/**
 * Generations that could become training examples, whenever they were made: succeeded, prompt kept,
 * approved or corrected, not held as evaluation cases (the rule dataset builds apply). Reads the
 * partial index generations_clean_examples_idx, so it costs the reviewed rows, not every row.
 */
export async function countCleanExamples(
  db: Queryable,
  versionIds: number[],
  collections?: string[],
): Promise<CleanExamplesRow> {
  const { rows } = await db.query<CleanExamplesRow>(
    `SELECT count(*) FILTER (WHERE g.review_state = 'approved')::int AS approved,
       count(*) FILTER (WHERE g.review_state = 'corrected')::int AS corrected,
       avg(g.prompt_tokens + g.completion_tokens)::float8 AS "meanTokens"
     FROM generations g
     WHERE g.task_version_id = ANY ($1::bigint[]) AND g.review_state IN ('approved', 'corrected')
       AND g.status = 'succeeded' AND g.messages IS NOT NULL AND g.output IS NOT NULL
       AND ($2::text[] IS NULL OR g.collection_id IN (SELECT id FROM collections WHERE name = ANY ($2::text[])))
       AND NOT EXISTS (SELECT 1 FROM generation_purposes p WHERE p.generation_id = g.id AND p.purpose = 'evaluation')`,
    [versionIds, collections ?? null],
  )
  return rows[0]!
}

export interface PromptSampleRow {
  model: string | null
  messages: StoredMessage[]
  passages: StoredPassage[] | null
}

/**
 * The newest succeeded generations of one template that kept their prompt, for the prompt's composition.
 * Read version by version, each a backward walk of generations_task_idx that stops at `limit` rows
 * (`task_version_id = ANY (…)` with ORDER BY would sort every row of the window instead).
 */
export async function samplePrompts(
  db: Queryable,
  range: InsightsRange,
  template: 'foundation' | 'fine_tuned',
  limit: number,
): Promise<PromptSampleRow[]> {
  const { rows } = await db.query<PromptSampleRow>(
    `SELECT s.model, s.messages, s.passages
     FROM unnest($1::bigint[]) AS version(id)
     CROSS JOIN LATERAL (
       SELECT g.model, g.messages, g.passages, g.created_at FROM generations g
       WHERE g.task_version_id = version.id AND g.created_at >= $2 AND g.created_at < $3
         AND g.status = 'succeeded' AND g.messages IS NOT NULL
         AND coalesce(g.prompt_template, 'foundation') = $4
         AND ($6::text[] IS NULL OR g.collection_id IN (SELECT id FROM collections WHERE name = ANY ($6::text[])))
       ORDER BY g.created_at DESC LIMIT $5) AS s
     ORDER BY s.created_at DESC LIMIT $5`,
    [range.versionIds, range.from, range.to, template, limit, range.collections ?? null],
  )
  return rows
}

/** Versions of a task that were rolled back from: a fine-tuned route that was tried and withdrawn. */
export async function rolledBackVersions(db: Queryable, taskId: number): Promise<number[]> {
  const { rows } = await db.query<{ version: number }>(
    `SELECT DISTINCT from_version AS version FROM promotions WHERE task_id = $1 AND action = 'rollback'`,
    [taskId],
  )
  return rows.map((r) => r.version)
}
