import { canUseCollection } from '../collections/access.js'
import type { TaskVersionRow } from '../db/tasks.js'
import type { Queryable } from '../db/transaction.js'
import type { ActiveTaskCache } from './active-task-cache.js'
import { listTasks } from './manage-tasks.js'
import { TaskName } from './task-definition.js'

/** What deciding needs of an API key: its collection allowlist (absent: every collection). */
interface CallerKey {
  collections?: string[]
}

/** A task as the OpenAI-compatible surface lists it: one model per task. */
export interface TaskModel {
  id: string
  /** When the active version was stored (unix seconds). */
  created: number
}

/**
 * Whether a key may call a task: its default collection is on the key's allowlist, or it has none (no
 * retrieval unless the request names a collection, which is then checked when the request runs).
 */
function mayCall(key: CallerKey, collection: string | undefined): boolean {
  return collection === undefined || canUseCollection(key, collection)
}

function toModel(name: string, createdAt: Date | string): TaskModel {
  return { id: name, created: Math.floor(new Date(createdAt).getTime() / 1000) }
}

/** The tasks with an active version that `key` may call, ordered by name. */
export async function listCallableTasks(db: Queryable, key: CallerKey): Promise<TaskModel[]> {
  return (await listTasks(db))
    .filter((task) => mayCall(key, task.definition.retrieval.collection))
    .map((task) => toModel(task.task, task.createdAt))
}

/**
 * One callable task, or undefined when there is none by that name or the key may not call it: the two
 * look alike, so a key cannot learn the names of tasks outside its collections.
 */
export async function findCallableTask(
  tasks: Pick<ActiveTaskCache, 'get'>,
  key: CallerKey,
  name: string,
): Promise<TaskModel | undefined> {
  if (!TaskName.safeParse(name).success) return undefined
  const row: TaskVersionRow | undefined = await tasks.get(name)
  if (!row || !mayCall(key, row.retrieval.collection)) return undefined
  return toModel(row.taskName, row.createdAt)
}
