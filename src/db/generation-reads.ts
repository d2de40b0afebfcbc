import type { StoredMessage, StoredPassage } from './generations.js'
import type { Queryable } from './transaction.js'

export type ReviewState = 'unreviewed' | 'approved' | 'rejected' | 'corrected'
export type RouteArm = 'foundation' | 'fine_tuned'

/** Which generations a caller may see: all, those of some collections, or only a key's own. */
export interface GenerationScope {
  /** Only generations this key made. */
  ownKeyId?: string
  /** Only generations of these collections (a key's allowlist). */
  collections?: string[]
  /** A reviewer reads blind: `revealed` is true only where this key has submitted feedback. */
  blindFor?: string
}

export interface GenerationFilters {
  task?: string
  taskVersion?: number
  model?: string
  strategy?: string
  arm?: RouteArm
  status?: 'succeeded' | 'failed'
  reviewState?: ReviewState
  subject?: string
  from?: Date
  to?: Date
}

export interface GenerationCursor {
  /** created_at as PostgreSQL printed it: full precision, so the next page starts exactly after it. */
  at: string
  id: string
}

export interface GenerationRow {
  id: string
  requestId: string
  taskName: string | null
  taskVersion: number | null
  apiKeyId: string | null
  collection: string | null
  endpoint: string
  subject: string | null
  strategy: string | null
  routeArm: RouteArm | null
  routeReason: string | null
  model: string | null
  fellBack: boolean
  input: Record<string, unknown>
  output: string | null
  promptTokens: number | null
  completionTokens: number | null
  costUsd: number | null
  latencyMs: number | null
  status: 'succeeded' | 'failed'
  error: string | null
  reviewState: ReviewState
  promptTemplate: 'foundation' | 'fine_tuned' | null
  promptDroppedAt: Date | null
  createdAt: Date
  cursorAt: string
  /** False for a blind reader that has not submitted feedback on it yet: route and usage stay hidden. */
  revealed: boolean
}

export interface GenerationDetailRow extends GenerationRow {
  messages: StoredMessage[] | null
  passages: StoredPassage[] | null
}

const COLUMNS = `g.id, g.request_id AS "requestId", t.name AS "taskName", v.version AS "taskVersion",
  g.api_key_id AS "apiKeyId", c.name AS collection, g.endpoint, g.subject, g.strategy, g.route_arm AS "routeArm",
  g.route_reason AS "routeReason", g.model, g.fell_back AS "fellBack", g.input, g.output,
  g.prompt_tokens AS "promptTokens", g.completion_tokens AS "completionTokens", g.cost_usd::float8 AS "costUsd",
  g.latency_ms AS "latencyMs", g.status, g.error, g.review_state AS "reviewState",
  g.prompt_template AS "promptTemplate", g.prompt_dropped_at AS "promptDroppedAt", g.created_at AS "createdAt",
  g.created_at::text AS "cursorAt"`

const FROM = `FROM generations g
  LEFT JOIN task_versions v ON v.id = g.task_version_id
  LEFT JOIN tasks t ON t.id = v.task_id
  LEFT JOIN collections c ON c.id = g.collection_id`

/** The `revealed` column: always true, or for a blind reader whether it has submitted feedback. */
function revealedColumn(scope: GenerationScope, params: unknown[]): string {
  if (scope.blindFor === undefined) return 'true AS revealed'
  params.push(scope.blindFor)
  return `EXISTS (SELECT 1 FROM feedback f WHERE f.generation_id = g.id AND f.api_key_id = $${params.length}) AS revealed`
}

/** WHERE clauses and their parameters for a scope and filters; every value is a bound parameter. */
function conditions(scope: GenerationScope, filters: GenerationFilters, params: unknown[]): string[] {
  const where: string[] = []
  const bind = (value: unknown) => {
    params.push(value)
    return `$${params.length}`
  }
  if (scope.ownKeyId !== undefined) where.push(`g.api_key_id = ${bind(scope.ownKeyId)}`)
  if (scope.collections !== undefined) where.push(`c.name = ANY (${bind(scope.collections)}::text[])`)
  if (filters.task !== undefined) where.push(`t.name = ${bind(filters.task)}`)
  if (filters.taskVersion !== undefined) where.push(`v.version = ${bind(filters.taskVersion)}`)
  if (filters.model !== undefined) where.push(`g.model = ${bind(filters.model)}`)
  if (filters.strategy !== undefined) where.push(`g.strategy = ${bind(filters.strategy)}`)
  if (filters.arm !== undefined) where.push(`g.route_arm = ${bind(filters.arm)}`)
  if (filters.status !== undefined) where.push(`g.status = ${bind(filters.status)}`)
  if (filters.reviewState !== undefined) where.push(`g.review_state = ${bind(filters.reviewState)}`)
  if (filters.subject !== undefined) where.push(`g.subject = ${bind(filters.subject)}`)
  if (filters.from !== undefined) where.push(`g.created_at >= ${bind(filters.from)}`)
  if (filters.to !== undefined) where.push(`g.created_at < ${bind(filters.to)}`)
  return where
}

/** One page, newest first; `limit + 1` rows are read so the caller knows whether another page exists. */
export async function listGenerationRows(
  db: Queryable,
  scope: GenerationScope,
  filters: GenerationFilters,
  limit: number,
  cursor?: GenerationCursor,
): Promise<GenerationRow[]> {
  const params: unknown[] = []
  const revealed = revealedColumn(scope, params)
  const where = conditions(scope, filters, params)
  if (cursor) {
    params.push(cursor.at, cursor.id)
    where.push(`(g.created_at, g.id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`)
  }
  params.push(limit + 1)
  const { rows } = await db.query<GenerationRow>(
    `SELECT ${COLUMNS}, ${revealed} ${FROM}
     ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY g.created_at DESC, g.id DESC LIMIT $${params.length}`,
    params,
  )
  return rows
}

export async function findGenerationRow(
  db: Queryable,
  id: string,
  scope: GenerationScope,
): Promise<GenerationDetailRow | undefined> {
  const params: unknown[] = [id]
  const revealed = revealedColumn(scope, params)
  const where = ['g.id = $1', ...conditions(scope, {}, params)]
  const { rows } = await db.query<GenerationDetailRow>(
    `SELECT ${COLUMNS}, ${revealed}, g.messages, g.passages ${FROM} WHERE ${where.join(' AND ')}`,
    params,
  )
  return rows[0]
}

/**
 * Drop the stored prompts (messages and passages) of generations older than `days` that nobody gave
 * feedback on; generations with any feedback keep theirs, since they are what datasets are built from.
 * Returns how many prompts were dropped.
 */
export async function dropExpiredPrompts(db: Queryable, days: number, batch = 5000): Promise<number> {
  const { rows } = await db.query<{ dropped: number }>(
    `WITH expired AS (
       SELECT g.id FROM generations g
       WHERE g.messages IS NOT NULL AND g.review_state = 'unreviewed'
         AND g.created_at < now() - make_interval(days => $1::int)
         AND NOT EXISTS (SELECT 1 FROM feedback f WHERE f.generation_id = g.id)
         AND NOT EXISTS (SELECT 1 FROM review_leases l WHERE l.generation_id = g.id AND l.leased_until > now())
       ORDER BY g.created_at LIMIT $2
       FOR UPDATE SKIP LOCKED),
     dropped AS (
       UPDATE generations g SET messages = NULL, passages = NULL, prompt_dropped_at = now()
       FROM expired WHERE g.id = expired.id RETURNING g.id)
     SELECT count(*)::int AS dropped FROM dropped`,
    [days, batch],
  )
  return rows[0]?.dropped ?? 0
}
