import type { StoredMessage, StoredPassage } from './generations.js'
import type { Queryable } from './transaction.js'

export interface DatasetCandidate {
  id: string
  createdAt: Date
  input: { input?: string; variables?: Record<string, string> }
  messages: StoredMessage[]
  passages: StoredPassage[] | null
  output: string
  /** The latest correction any reviewer made, if any. */
  corrected: string | null
  taskVersion: number
  systemPrompt: string
  fineTunedSystemPrompt: string | null
}

export interface CandidateFilter {
  taskId: number
  versions?: number[]
  since?: Date
  states: ('approved' | 'corrected')[]
  minRating?: number
  /** A key's allowlist: only generations of these collections. */
  collections?: string[]
}

/**
 * Reviewed generations of a task that may become training examples, newest first: succeeded, prompt
 * still stored, in one of `states`, and never used as an evaluation case.
 */
export async function findDatasetCandidates(
  db: Queryable,
  filter: CandidateFilter,
): Promise<DatasetCandidate[]> {
  const { rows } = await db.query<DatasetCandidate>(
    `SELECT g.id, g.created_at AS "createdAt", g.input, g.messages, g.passages, g.output,
       (SELECT f.corrected_output FROM feedback f WHERE f.generation_id = g.id AND f.corrected_output IS NOT NULL
        ORDER BY f.updated_at DESC, f.id DESC LIMIT 1) AS corrected,
       v.version AS "taskVersion", v.system_prompt AS "systemPrompt",
       v.route->>'fineTunedSystemPrompt' AS "fineTunedSystemPrompt"
     FROM generations g
     JOIN task_versions v ON v.id = g.task_version_id
     LEFT JOIN collections c ON c.id = g.collection_id
     WHERE v.task_id = $1 AND g.status = 'succeeded' AND g.messages IS NOT NULL AND g.output IS NOT NULL
       AND g.review_state = ANY ($2::text[])
       AND ($3::int[] IS NULL OR v.version = ANY ($3::int[]))
       AND ($4::timestamptz IS NULL OR g.created_at >= $4)
       AND ($5::float8 IS NULL OR (SELECT avg(f.rating) FROM feedback f WHERE f.generation_id = g.id) >= $5)
       AND ($6::text[] IS NULL OR c.name = ANY ($6::text[]))
       AND NOT EXISTS (SELECT 1 FROM generation_purposes p WHERE p.generation_id = g.id AND p.purpose = 'evaluation')
     ORDER BY g.created_at DESC, g.id DESC`,
    [
      filter.taskId,
      filter.states,
      filter.versions ?? null,
      filter.since ?? null,
      filter.minRating ?? null,
      filter.collections ?? null,
    ],
  )
  return rows
}

export async function countEvaluationHeld(db: Queryable, filter: CandidateFilter): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM generations g JOIN task_versions v ON v.id = g.task_version_id
     JOIN generation_purposes p ON p.generation_id = g.id AND p.purpose = 'evaluation'
     WHERE v.task_id = $1 AND g.review_state = ANY ($2::text[])`,
    [filter.taskId, filter.states],
  )
  return rows[0]?.n ?? 0
}

export interface DatasetRow {
  id: string
  taskName: string
  params: Record<string, unknown>
  baseModel: string
  status: 'invalid' | 'not_ready' | 'ready'
  counts: Record<string, number>
  tokenStats: Record<string, unknown>
  report: Record<string, unknown>
  createdBy: string | null
  createdAt: Date
}

export interface ExampleRow {
  split: 'train' | 'validation'
  line: number
  generationId: string
  corrected: boolean
  tokens: number
  example: unknown
  preference: unknown | null
}

export async function insertDataset(
  db: Queryable,
  dataset: Omit<DatasetRow, 'id' | 'createdAt' | 'taskName'> & { taskId: number },
): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO datasets (task_id, params, base_model, status, counts, token_stats, report, created_by)
     VALUES ($1, $2::jsonb, $3, $4, $5::jsonb, $6::jsonb, $7::jsonb, $8) RETURNING id`,
    [
      dataset.taskId,
      JSON.stringify(dataset.params),
      dataset.baseModel,
      dataset.status,
      JSON.stringify(dataset.counts),
      JSON.stringify(dataset.tokenStats),
      JSON.stringify(dataset.report),
      dataset.createdBy,
    ],
  )
  return rows[0]!.id
}

/**
 * Taken (for the transaction) by whatever records what generations are used for: a dataset claiming
 * training examples and an evaluation set claiming cases wait for each other, and each sees the other's
 * claims once it has the lock, so no generation ends up on both sides.
 */
const GENERATION_PURPOSES_LOCK = 7_201_555_013

/**
 * Store the examples in batches (one statement per batch) and claim their generations for training.
 * Returns the generations an evaluation set claimed since they were selected: the caller must roll back.
 */
export async function insertExamples(
  db: Queryable,
  datasetId: string,
  examples: ExampleRow[],
): Promise<{ heldForEvaluation: string[] }> {
  for (let start = 0; start < examples.length; start += 500) {
    const batch = examples.slice(start, start + 500)
    await db.query(
      `INSERT INTO dataset_examples (dataset_id, split, line, generation_id, corrected, tokens, example, preference)
       SELECT $1, s, l, g, c, t, e::jsonb, p::jsonb
       FROM unnest($2::text[], $3::int[], $4::uuid[], $5::boolean[], $6::int[], $7::text[], $8::text[])
         AS u(s, l, g, c, t, e, p)`,
      [
        datasetId,
        batch.map((e) => e.split),
        batch.map((e) => e.line),
        batch.map((e) => e.generationId),
        batch.map((e) => e.corrected),
        batch.map((e) => e.tokens),
        batch.map((e) => JSON.stringify(e.example)),
        batch.map((e) => (e.preference === null ? null : JSON.stringify(e.preference))),
      ],
    )
  }
  await db.query('SELECT pg_advisory_xact_lock($1)', [GENERATION_PURPOSES_LOCK])
  await db.query(
    `INSERT INTO generation_purposes (generation_id, purpose, claimed_by)
     SELECT DISTINCT generation_id, 'training', $1::uuid FROM dataset_examples WHERE dataset_id = $1
     ON CONFLICT (generation_id) DO NOTHING`,
    [datasetId],
  )
  const { rows } = await db.query<{ id: string }>(
    `SELECT DISTINCT e.generation_id AS id FROM dataset_examples e
     JOIN generation_purposes p ON p.generation_id = e.generation_id AND p.purpose = 'evaluation'
     WHERE e.dataset_id = $1`,
    [datasetId],
  )
  return { heldForEvaluation: rows.map((r) => r.id) }
}

/**
 * Record generations as evaluation cases (an evaluation set's sampled cases). Refuses, returning them,
 * any that a dataset already used for training; nothing is recorded then. Call it in the transaction
 * that stores the cases (the purposes lock is held to its end).
 */
export async function claimForEvaluation(
  db: Queryable,
  generationIds: string[],
  evaluationSetId: string,
): Promise<{ refused: string[] }> {
  await db.query('SELECT pg_advisory_xact_lock($1)', [GENERATION_PURPOSES_LOCK])
  const { rows } = await db.query<{ id: string }>(
    `SELECT generation_id AS id FROM generation_purposes
     WHERE generation_id = ANY ($1::uuid[]) AND purpose = 'training'`,
    [generationIds],
  )
  if (rows.length > 0) return { refused: rows.map((r) => r.id) }
  await db.query(
    `INSERT INTO generation_purposes (generation_id, purpose, claimed_by)
     SELECT unnest($1::uuid[]), 'evaluation', $2::uuid ON CONFLICT (generation_id) DO NOTHING`,
    [generationIds, evaluationSetId],
  )
  return { refused: [] }
}

export async function findDataset(db: Queryable, id: string): Promise<DatasetRow | undefined> {
  const { rows } = await db.query<DatasetRow>(
    `SELECT d.id, t.name AS "taskName", d.params, d.base_model AS "baseModel", d.status, d.counts,
       d.token_stats AS "tokenStats", d.report, d.created_by AS "createdBy", d.created_at AS "createdAt"
     FROM datasets d JOIN tasks t ON t.id = d.task_id WHERE d.id = $1`,
    [id],
  )
  return rows[0]
}

/** One page of a split's lines, in line order. */
export async function readExamples(
  db: Queryable,
  datasetId: string,
  split: 'train' | 'validation',
  afterLine: number,
  limit: number,
): Promise<ExampleRow[]> {
  const { rows } = await db.query<ExampleRow>(
    `SELECT split, line, generation_id AS "generationId", corrected, tokens, example, preference
     FROM dataset_examples WHERE dataset_id = $1 AND split = $2 AND line > $3 ORDER BY line LIMIT $4`,
    [datasetId, split, afterLine, limit],
  )
  return rows
}

/**
 * A task's datasets, newest first (at most `limit`); with `createdBy`, only those that key built.
 * Reads the same columns as findDataset.
 */
export async function listTaskDatasets(
  db: Queryable,
  input: { taskName: string; createdBy?: string; limit: number },
): Promise<DatasetRow[]> {
  const { rows } = await db.query<DatasetRow>(
    `SELECT d.id, t.name AS "taskName", d.params, d.base_model AS "baseModel", d.status, d.counts,
       d.token_stats AS "tokenStats", d.report, d.created_by AS "createdBy", d.created_at AS "createdAt"
     FROM datasets d JOIN tasks t ON t.id = d.task_id
     WHERE t.name = $1 AND ($2::text IS NULL OR d.created_by = $2)
     ORDER BY d.created_at DESC, d.id DESC LIMIT $3`,
    [input.taskName, input.createdBy ?? null, input.limit],
  )
  return rows
}
