import type { ModelRoute } from '../generation/routing.js'
import type { RetrievalPolicy, TaskDefinition, TaskOutput } from '../tasks/task-definition.js'
import type { Queryable } from './transaction.js'

export interface TaskRow {
  id: number
  name: string
  activeVersion: number | null
  createdAt: Date
  updatedAt: Date
}

export interface TaskVersionRow {
  id: number
  taskId: number
  taskName: string
  version: number
  active: boolean
  description: string
  systemPrompt: string
  retrieval: RetrievalPolicy
  route: ModelRoute
  output: TaskOutput
  temperature: number | null
  maxTokens: number | null
  createdAt: Date
}

const VERSION_COLUMNS = `v.id, v.task_id AS "taskId", t.name AS "taskName", v.version,
  (t.active_version = v.version) IS TRUE AS active, v.description, v.system_prompt AS "systemPrompt",
  v.retrieval, v.route, v.output, v.temperature, v.max_tokens AS "maxTokens", v.created_at AS "createdAt"`

/**
 * SQL that is true when task `t` lies inside the collection allowlist held by parameter `param` (NULL:
 * every task): every version of it names a collection of the list. A version naming none may be sent
 * to any collection by the request, so it lies inside no allowlist.
 */
function within(param: string): string {
  return `(${param}::text[] IS NULL OR NOT EXISTS (
    SELECT 1 FROM task_versions w WHERE w.task_id = t.id
      AND coalesce(w.retrieval->>'collection' = ANY(${param}::text[]), false) IS FALSE))`
}

/** Create the task row if needed and lock it, so concurrent PUTs number their versions one after another. */
export async function lockOrCreateTask(db: Queryable, name: string): Promise<TaskRow> {
  const { rows } = await db.query<TaskRow>(
    `INSERT INTO tasks (name) VALUES ($1)
     ON CONFLICT (name) DO UPDATE SET updated_at = now()
     RETURNING id, name, active_version AS "activeVersion", created_at AS "createdAt", updated_at AS "updatedAt"`,
    [name],
  )
  return rows[0]!
}

/** The task, if it exists and lies inside `collections` (see `within`; absent: any task). */
export async function findTask(
  db: Queryable,
  name: string,
  collections?: readonly string[],
): Promise<TaskRow | undefined> {
  const { rows } = await db.query<TaskRow>(
    `SELECT id, name, active_version AS "activeVersion", created_at AS "createdAt", updated_at AS "updatedAt"
     FROM tasks t WHERE name = $1 AND ${within('$2')}`,
    [name, collections ?? null],
  )
  return rows[0]
}

/** Whether every version of the task names a collection of `collections`. */
export async function isTaskWithin(
  db: Queryable,
  taskId: number,
  collections: readonly string[],
): Promise<boolean> {
  const { rows } = await db.query<{ inside: boolean }>(
    `SELECT ${within('$2')} AS inside FROM tasks t WHERE t.id = $1`,
    [taskId, collections],
  )
  return rows[0]?.inside === true
}

export async function insertTaskVersion(
  db: Queryable,
  taskId: number,
  definition: TaskDefinition,
  createdBy: string | null,
): Promise<number> {
  const { rows } = await db.query<{ version: number }>(
    `INSERT INTO task_versions
       (task_id, version, description, system_prompt, retrieval, route, output, temperature, max_tokens, created_by)
     SELECT $1, coalesce(max(version), 0) + 1, $2, $3, $4::jsonb, $5::jsonb, $6::jsonb, $7, $8, $9
     FROM task_versions WHERE task_id = $1
     RETURNING version`,
    [
      taskId,
      definition.description,
      definition.systemPrompt,
      JSON.stringify(definition.retrieval),
      JSON.stringify(definition.route),
      JSON.stringify(definition.output),
      definition.temperature ?? null,
      definition.maxTokens ?? null,
      createdBy,
    ],
  )
  return rows[0]!.version
}

export async function setActiveVersion(db: Queryable, taskId: number, version: number): Promise<void> {
  await db.query('UPDATE tasks SET active_version = $2, updated_at = now() WHERE id = $1', [taskId, version])
}

export async function listTaskVersionRows(db: Queryable, taskId: number): Promise<TaskVersionRow[]> {
  const { rows } = await db.query<TaskVersionRow>(
    `SELECT ${VERSION_COLUMNS} FROM task_versions v JOIN tasks t ON t.id = v.task_id
     WHERE v.task_id = $1 ORDER BY v.version`,
    [taskId],
  )
  return rows
}

export async function findTaskVersionRow(
  db: Queryable,
  taskId: number,
  version: number,
): Promise<TaskVersionRow | undefined> {
  const { rows } = await db.query<TaskVersionRow>(
    `SELECT ${VERSION_COLUMNS} FROM task_versions v JOIN tasks t ON t.id = v.task_id
     WHERE v.task_id = $1 AND v.version = $2`,
    [taskId, version],
  )
  return rows[0]
}

/** The version a generation request runs: one indexed lookup on the hot path. */
export async function findActiveTaskVersion(
  db: Queryable,
  name: string,
): Promise<TaskVersionRow | undefined> {
  const { rows } = await db.query<TaskVersionRow>(
    `SELECT ${VERSION_COLUMNS} FROM tasks t JOIN task_versions v ON v.task_id = t.id AND v.version = t.active_version
     WHERE t.name = $1`,
    [name],
  )
  return rows[0]
}

export async function listActiveTaskVersions(
  db: Queryable,
  collections?: readonly string[],
): Promise<TaskVersionRow[]> {
  const { rows } = await db.query<TaskVersionRow>(
    `SELECT ${VERSION_COLUMNS} FROM tasks t JOIN task_versions v ON v.task_id = t.id AND v.version = t.active_version
     WHERE ${within('$1')}
     ORDER BY t.name`,
    [collections ?? null],
  )
  return rows
}
