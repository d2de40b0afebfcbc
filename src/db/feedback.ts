import type { Queryable } from './transaction.js'

export interface FeedbackRow {
  generationId: string
  apiKeyId: string | null
  rating: number | null
  thumb: 'up' | 'down' | null
  approved: boolean | null
  correctedOutput: string | null
  comment: string | null
  labels: string[]
  revision: number
  createdAt: Date
  updatedAt: Date
}

export interface FeedbackInput {
  rating: number | null
  thumb: 'up' | 'down' | null
  approved: boolean | null
  correctedOutput: string | null
  comment: string | null
  labels: string[]
}

const COLUMNS = `generation_id AS "generationId", api_key_id AS "apiKeyId", rating, thumb, approved,
  corrected_output AS "correctedOutput", comment, labels, revision, created_at AS "createdAt",
  updated_at AS "updatedAt"`

/** The current feedback on a generation, one row per key, oldest first. */
export async function listFeedback(
  db: Queryable,
  generationId: string,
  onlyKeyId?: string,
): Promise<FeedbackRow[]> {
  const { rows } = await db.query<FeedbackRow>(
    `SELECT ${COLUMNS} FROM feedback WHERE generation_id = $1 AND ($2::text IS NULL OR api_key_id = $2)
     ORDER BY created_at, id`,
    [generationId, onlyKeyId ?? null],
  )
  return rows
}

export interface LockedGeneration {
  id: string
  apiKeyId: string | null
  collection: string | null
  /** The task version's output format: a JSON task's corrections are checked against its schema. */
  output: { type: string; schema?: Record<string, unknown> } | null
}

/**
 * Lock a generation's row for the length of the transaction: feedback changes on one generation run
 * one after another, so the derived review state is computed from what the others committed.
 */
export async function lockGeneration(db: Queryable, id: string): Promise<LockedGeneration | undefined> {
  const { rows } = await db.query<LockedGeneration>(
    `SELECT g.id, g.api_key_id AS "apiKeyId", c.name AS collection, v.output
     FROM generations g
     LEFT JOIN task_versions v ON v.id = g.task_version_id
     LEFT JOIN collections c ON c.id = g.collection_id
     WHERE g.id = $1 FOR UPDATE OF g`,
    [id],
  )
  return rows[0]
}

/**
 * Insert or replace the key's current feedback on a generation (the unique (generation, key) pair makes
 * retries and flipped votes update one row) and append the new state to the history. Call inside a
 * transaction that holds lockGeneration.
 */
export async function upsertFeedback(
  db: Queryable,
  generationId: string,
  apiKeyId: string,
  input: FeedbackInput,
): Promise<FeedbackRow> {
  const { rows } = await db.query<FeedbackRow>(
    `INSERT INTO feedback (generation_id, api_key_id, rating, thumb, approved, corrected_output, comment, labels)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text[])
     ON CONFLICT (generation_id, api_key_id) DO UPDATE SET rating = EXCLUDED.rating, thumb = EXCLUDED.thumb,
       approved = EXCLUDED.approved, corrected_output = EXCLUDED.corrected_output, comment = EXCLUDED.comment,
       labels = EXCLUDED.labels, revision = feedback.revision + 1, updated_at = now()
     RETURNING ${COLUMNS}`,
    [
      generationId,
      apiKeyId,
      input.rating,
      input.thumb,
      input.approved,
      input.correctedOutput,
      input.comment,
      input.labels,
    ],
  )
  const row = rows[0]!
  // A reviewer who submitted is done with the item: its queue lease ends.
  await db.query('DELETE FROM review_leases WHERE generation_id = $1 AND api_key_id = $2', [
    generationId,
    apiKeyId,
  ])
  await db.query(
    `INSERT INTO feedback_history
       (generation_id, api_key_id, revision, rating, thumb, approved, corrected_output, comment, labels)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text[])`,
    [
      generationId,
      apiKeyId,
      row.revision,
      row.rating,
      row.thumb,
      row.approved,
      row.correctedOutput,
      row.comment,
      row.labels,
    ],
  )
  return row
}

export interface FeedbackHistoryRow extends FeedbackInput {
  apiKeyId: string | null
  revision: number
  createdAt: Date
}

export async function listFeedbackHistory(
  db: Queryable,
  generationId: string,
  onlyKeyId?: string,
): Promise<FeedbackHistoryRow[]> {
  const { rows } = await db.query<FeedbackHistoryRow>(
    `SELECT api_key_id AS "apiKeyId", revision, rating, thumb, approved, corrected_output AS "correctedOutput",
       comment, labels, created_at AS "createdAt"
     FROM feedback_history WHERE generation_id = $1 AND ($2::text IS NULL OR api_key_id = $2) ORDER BY id`,
    [generationId, onlyKeyId ?? null],
  )
  return rows
}

/**
 * Recompute a generation's review state from its current feedback: a correction outranks a rejection,
 * which outranks an approval; ratings alone do not review. Returns the new state.
 */
export async function refreshReviewState(db: Queryable, generationId: string): Promise<string> {
  const { rows } = await db.query<{ state: string }>(
    `UPDATE generations g SET review_state = (
       SELECT CASE
         WHEN bool_or(f.corrected_output IS NOT NULL) THEN 'corrected'
         WHEN bool_or(f.approved = false) THEN 'rejected'
         WHEN bool_or(f.approved = true) THEN 'approved'
         ELSE 'unreviewed' END
       FROM feedback f WHERE f.generation_id = g.id)
     WHERE g.id = $1 RETURNING review_state AS state`,
    [generationId],
  )
  return rows[0]!.state
}
