import { chargeableTokens, chargeTokensSql } from './rate-limits.js'
import type { Queryable } from './transaction.js'

export interface GenerationLog {
  id: string
  requestId: string
  taskVersionId: number | null
  apiKeyId: string | null
  /** Resolved to an id inside the insert, so logging costs one round trip. */
  collectionName: string | null
  endpoint: 'generate' | 'chat_completions'
  subject: string | null
  strategy: string | null
  routeReason: string | null
  model: string | null
  fellBack: boolean
  chunkIds: number[]
  input: Record<string, unknown>
  output: string | null
  promptTokens: number | null
  completionTokens: number | null
  costUsd: number | null
  latencyMs: number
  status: 'succeeded' | 'failed'
  error: string | null
}

export interface GenerationRow extends Omit<GenerationLog, 'collectionName'> {
  collectionId: number | null
  createdAt: Date
}

/**
 * Log a generation and charge its tokens to the API key's rate-limit window, in one statement (one
 * round trip). The token charge is recordTokens' statement (rate-limits.ts), embedded as a CTE
 * because this runs on every generation. The transaction commits asynchronously
 * (`synchronous_commit = off` for it alone): the rows are visible at once, but the flush to disk is not
 * awaited, so a server crash can lose the last fraction of a second of log rows and token charges.
 * That is a fair price for writes made on every request that nothing else depends on being durable.
 */
export async function insertGeneration(
  db: Queryable,
  log: GenerationLog,
  charge: { keyId: string; tokens: number } | null,
): Promise<void> {
  const tokens = charge ? chargeableTokens(charge.tokens) : null
  await db.query(
    `WITH charged AS (
       ${chargeTokensSql('$21', '$22')}
     )
     INSERT INTO generations (id, request_id, task_version_id, api_key_id, collection_id, endpoint, subject,
       strategy, route_reason, model, fell_back, chunk_ids, input, output, prompt_tokens, completion_tokens,
       cost_usd, latency_ms, status, error)
     SELECT $1, $2, $3, $4, (SELECT id FROM collections WHERE name = $5), $6, $7, $8, $9, $10, $11,
       $12::bigint[], $13::jsonb, $14, $15, $16, $17, $18, $19, $20
     FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit`,
    [
      log.id,
      log.requestId,
      log.taskVersionId,
      log.apiKeyId,
      log.collectionName,
      log.endpoint,
      log.subject,
      log.strategy,
      log.routeReason,
      log.model,
      log.fellBack,
      log.chunkIds,
      JSON.stringify(log.input),
      log.output,
      log.promptTokens,
      log.completionTokens,
      log.costUsd,
      log.latencyMs,
      log.status,
      log.error,
      charge?.keyId ?? null,
      tokens,
    ],
  )
}

export async function findGeneration(db: Queryable, id: string): Promise<GenerationRow | undefined> {
  const { rows } = await db.query<GenerationRow>(
    `SELECT id, request_id AS "requestId", task_version_id AS "taskVersionId", api_key_id AS "apiKeyId",
       collection_id AS "collectionId", endpoint, subject, strategy, route_reason AS "routeReason", model,
       fell_back AS "fellBack", chunk_ids AS "chunkIds", input, output, prompt_tokens AS "promptTokens",
       completion_tokens AS "completionTokens", cost_usd AS "costUsd", latency_ms AS "latencyMs", status, error,
       created_at AS "createdAt"
     FROM generations WHERE id = $1`,
    [id],
  )
  return rows[0]
}
