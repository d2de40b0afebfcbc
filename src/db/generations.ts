import { storableCount, storableJson, storableNumeric, storableText } from './storable.js'
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
  /** The messages exactly as sent to the model (null only when nothing was sent). */
  messages: StoredMessage[] | null
  /** The passages the system message numbered, `[n]` being index + 1. */
  passages: StoredPassage[]
  /** Which template rendered the system message. */
  promptTemplate: 'foundation' | 'fine_tuned'
  /** The arm the route chose. */
  routeArm: 'foundation' | 'fine_tuned'
}

export interface StoredMessage {
  role: string
  content: string
}

/** A passage as the prompt showed it: enough to render the prompt again without today's retrieval. */
export interface StoredPassage {
  documentId: number
  sourceId: string
  title: string
  kind: string
  headingPath: string
  text: string
  chunkIds: number[]
}

/**
 * Write a batch of generation rows in one statement (one round trip however many rows): one array
 * parameter per column, unnested side by side. `createdAt` is when the generation finished, not when
 * the batch was written. The transaction commits asynchronously (`synchronous_commit = off` for it
 * alone): the rows are visible at once, but the flush to disk is not awaited, so a database crash can
 * lose the last fraction of a second of rows. A fair price for writes made on every request that
 * nothing else waits on.
 *
 * Every answered request must leave its row, whatever the model or the caller sent: text the database
 * cannot hold (NUL, lone surrogates) is replaced, and a count or cost that does not fit its column is
 * stored as null rather than failing the row.
 */
export async function insertGenerations(
  db: Queryable,
  logs: (GenerationLog & { createdAt: Date })[],
): Promise<void> {
  if (logs.length === 0) return
  const column = <T>(pick: (log: GenerationLog & { createdAt: Date }) => T) => logs.map(pick)
  await db.query(
    `INSERT INTO generations (id, request_id, task_version_id, api_key_id, collection_id, endpoint, subject,
       strategy, route_reason, model, fell_back, chunk_ids, input, output, prompt_tokens, completion_tokens,
       cost_usd, latency_ms, status, error, created_at, messages, passages, prompt_template, route_arm)
     SELECT r.id, r.request_id, r.task_version_id, r.api_key_id, c.id, r.endpoint, r.subject, r.strategy,
       r.route_reason, r.model, r.fell_back, r.chunk_ids::bigint[], r.input::jsonb, r.output, r.prompt_tokens,
       r.completion_tokens, r.cost_usd, r.latency_ms, r.status, r.error, r.created_at,
       r.messages::jsonb, r.passages::jsonb, r.prompt_template, r.route_arm
     FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[],
       $8::text[], $9::text[], $10::text[], $11::boolean[], $12::text[], $13::text[], $14::text[], $15::int[],
       $16::int[], $17::numeric[], $18::int[], $19::text[], $20::text[], $21::timestamptz[], $22::text[],
       $23::text[], $24::text[], $25::text[])
       AS r(id, request_id, task_version_id, api_key_id, collection_name, endpoint, subject, strategy,
         route_reason, model, fell_back, chunk_ids, input, output, prompt_tokens, completion_tokens, cost_usd,
         latency_ms, status, error, created_at, messages, passages, prompt_template, route_arm)
     LEFT JOIN collections c ON c.name = r.collection_name
     CROSS JOIN (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
     ON CONFLICT (id) DO NOTHING`,
    [
      column((log) => log.id),
      column((log) => log.requestId),
      column((log) => log.taskVersionId),
      column((log) => log.apiKeyId),
      column((log) => log.collectionName),
      column((log) => log.endpoint),
      column((log) => storableText(log.subject)),
      column((log) => log.strategy),
      column((log) => storableText(log.routeReason)),
      column((log) => log.model),
      column((log) => log.fellBack),
      column((log) => `{${log.chunkIds.join(',')}}`),
      column((log) => storableJson(log.input)),
      column((log) => storableText(log.output)),
      column((log) => storableCount(log.promptTokens)),
      column((log) => storableCount(log.completionTokens)),
      column((log) => storableNumeric(log.costUsd, 14, 8)),
      column((log) => storableCount(log.latencyMs)),
      column((log) => log.status),
      column((log) => storableText(log.error)),
      column((log) => log.createdAt),
      column((log) => (log.messages ? storableJson(log.messages) : null)),
      column((log) => storableJson(log.passages)),
      column((log) => log.promptTemplate),
      column((log) => log.routeArm),
    ],
  )
}
