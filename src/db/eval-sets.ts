import type { Queryable } from './transaction.js'

export interface EvalSetRow {
  id: string
  taskId: number
  taskName: string
  name: string
  version: number
  source: 'upload' | 'sampled'
  params: Record<string, unknown>
  caseCount: number
  contentHash: string
  createdBy: string | null
  createdAt: Date
}

export interface EvalCaseRow {
  ordinal: number
  input: string
  variables: Record<string, string>
  subject: string | null
  reference: string | null
  checks: unknown[]
  generationId: string | null
}

/** A reviewed generation that may become an evaluation case (never one a dataset trained on). */
export interface EvalCandidate {
  id: string
  input: { input?: string; variables?: Record<string, string> }
  subject: string | null
  output: string
  corrected: string | null
}

const SET_COLUMNS = `s.id, s.task_id AS "taskId", t.name AS "taskName", s.name, s.version, s.source, s.params,
  s.case_count AS "caseCount", s.content_hash AS "contentHash", s.created_by AS "createdBy", s.created_at AS "createdAt"`

/** Insert the next version of the named set of a task (1 for a new name). */
export async function insertEvalSet(
  db: Queryable,
  set: Pick<EvalSetRow, 'taskId' | 'name' | 'source' | 'params' | 'caseCount' | 'contentHash' | 'createdBy'>,
): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO eval_sets (task_id, name, version, source, params, case_count, content_hash, created_by)
     SELECT $1, $2, coalesce(max(version), 0) + 1, $3, $4::jsonb, $5, $6, $7
     FROM eval_sets WHERE task_id = $1 AND name = $2
     RETURNING id`,
    [
      set.taskId,
      set.name,
      set.source,
      JSON.stringify(set.params),
      set.caseCount,
      set.contentHash,
      set.createdBy,
    ],
  )
  return rows[0]!.id
}

export async function insertEvalCases(
  db: Queryable,
  setId: string,
  cases: Omit<EvalCaseRow, 'ordinal'>[],
): Promise<void> {
  for (let start = 0; start < cases.length; start += 500) {
    const batch = cases.slice(start, start + 500)
    await db.query(
      `INSERT INTO eval_cases (eval_set_id, ordinal, input, variables, subject, reference, checks, generation_id)
       SELECT $1, o, i, v::jsonb, s, r, c::jsonb, g
       FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::uuid[])
         AS u(o, i, v, s, r, c, g)`,
      [
        setId,
        batch.map((_, i) => start + i + 1),
        batch.map((c) => c.input),
        batch.map((c) => JSON.stringify(c.variables)),
        batch.map((c) => c.subject),
        batch.map((c) => c.reference),
        batch.map((c) => JSON.stringify(c.checks)),
        batch.map((c) => c.generationId),
      ],
    )
  }
}

export async function findEvalSet(db: Queryable, id: string): Promise<EvalSetRow | undefined> {
  const { rows } = await db.query<EvalSetRow>(
    `SELECT ${SET_COLUMNS} FROM eval_sets s JOIN tasks t ON t.id = s.task_id WHERE s.id = $1`,
    [id],
  )
  return rows[0]
}

export async function readEvalCases(db: Queryable, setId: string): Promise<EvalCaseRow[]> {
  const { rows } = await db.query<EvalCaseRow>(
    `SELECT ordinal, input, variables, subject, reference, checks, generation_id AS "generationId"
     FROM eval_cases WHERE eval_set_id = $1 ORDER BY ordinal`,
    [setId],
  )
  return rows
}

/**
 * A task's succeeded generations in one of `states` that no dataset has used for training, each with
 * its latest correction. Ordered by id: the caller samples from them with a seeded hash.
 */
export async function findEvalCandidates(
  db: Queryable,
  filter: {
    taskId: number
    states: ('approved' | 'corrected')[]
    versions?: number[]
    since?: Date
    collections?: readonly string[]
  },
): Promise<EvalCandidate[]> {
  const { rows } = await db.query<EvalCandidate>(
    `SELECT g.id, g.input, g.subject, g.output,
       (SELECT f.corrected_output FROM feedback f WHERE f.generation_id = g.id AND f.corrected_output IS NOT NULL
        ORDER BY f.updated_at DESC, f.id DESC LIMIT 1) AS corrected
     FROM generations g
     JOIN task_versions v ON v.id = g.task_version_id
     LEFT JOIN collections c ON c.id = g.collection_id
     WHERE v.task_id = $1 AND g.status = 'succeeded' AND g.output IS NOT NULL
       AND g.review_state = ANY ($2::text[])
       AND ($3::int[] IS NULL OR v.version = ANY ($3::int[]))
       AND ($4::timestamptz IS NULL OR g.created_at >= $4)
       AND ($5::text[] IS NULL OR c.name = ANY ($5::text[]))
       AND NOT EXISTS (SELECT 1 FROM generation_purposes p WHERE p.generation_id = g.id AND p.purpose = 'training')
     ORDER BY g.id`,
    [filter.taskId, filter.states, filter.versions ?? null, filter.since ?? null, filter.collections ?? null],
  )
  return rows
}

/** A task's evaluation sets, newest first. */
export async function listEvalSets(db: Queryable, taskId: number, limit: number): Promise<EvalSetRow[]> {
  const { rows } = await db.query<EvalSetRow>(
    `SELECT ${SET_COLUMNS} FROM eval_sets s JOIN tasks t ON t.id = s.task_id
     WHERE s.task_id = $1 ORDER BY s.created_at DESC, s.version DESC LIMIT $2`,
    [taskId, limit],
  )
  return rows
}
