import type pg from 'pg'
import { assertCollectionAllowed, type CollectionAllowlist } from '../collections/access.js'
import {
  findTask,
  findTaskVersionRow,
  insertTaskVersion,
  isTaskWithin,
  listActiveTaskVersions,
  listTaskVersionRows,
  lockOrCreateTask,
  setActiveVersion,
  type TaskVersionRow,
} from '../db/tasks.js'
import { type Queryable, withTransaction } from '../db/transaction.js'
import { AppError } from '../errors.js'
import type { ModelRegistry } from '../generation/model-registry.js'
import type { ModelRoute } from '../generation/routing.js'
import { declaredVariables, type TaskDefinition, type TaskVersion } from './task-definition.js'

export interface PutTaskInput {
  name: string
  definition: TaskDefinition
  /** The registry every model the route names must be in (400 naming each that is not). */
  models: Pick<ModelRegistry, 'assertRegistered'>
  /** Make the new version the one requests run (default). The first version is always activated. */
  activate?: boolean
  createdBy?: string
  /** The allowlist of the key making the change; a limited key reaches only tasks inside it. */
  viewer?: CollectionAllowlist
}

export interface PutTaskResult {
  created: boolean
  version: TaskVersion
}

/**
 * Store a definition as the task's next version. Sending the definition the latest version already
 * has creates nothing, so loading the same files twice is a no-op.
 */
export async function putTask(db: pg.Pool | pg.PoolClient, input: PutTaskInput): Promise<PutTaskResult> {
  const limitedTo = input.viewer?.collections
  if (limitedTo !== undefined) assertDefinitionWithin(input.viewer ?? {}, input.definition)
  await input.models.assertRegistered(routeModels(input.definition.route), db)
  return withTransaction(db, async (client) => {
    const task = await lockOrCreateTask(client, input.name)
    // Checked under the task's lock, so no concurrent PUT can move the task out between check and write.
    if (limitedTo !== undefined && !(await isTaskWithin(client, task.id, limitedTo)))
      throw taskNotFound(input.name)
    const versions = await listTaskVersionRows(client, task.id)
    const latest = versions.at(-1)
    const activate = input.activate !== false || task.activeVersion === null
    if (latest && sameDefinition(definitionOf(latest), input.definition)) {
      if (activate && task.activeVersion !== latest.version)
        await setActiveVersion(client, task.id, latest.version)
      const row = await findTaskVersionRow(client, task.id, latest.version)
      return { created: false, version: toTaskVersion(row!) }
    }
    const version = await insertTaskVersion(client, task.id, input.definition, input.createdBy ?? null)
    if (activate) await setActiveVersion(client, task.id, version)
    const row = await findTaskVersionRow(client, task.id, version)
    return { created: true, version: toTaskVersion(row!) }
  })
}

/** The models a route names, with the request path of each (for the 400 naming an unknown one). */
export function routeModels(route: ModelRoute, prefix = 'route'): { path: string; id: string }[] {
  return [
    { path: `${prefix}.foundationModel`, id: route.foundationModel },
    ...(route.fineTunedModel !== undefined
      ? [{ path: `${prefix}.fineTunedModel`, id: route.fineTunedModel }]
      : []),
  ]
}

/*
 * A key limited to some collections manages only the tasks inside its allowlist: tasks every version of
 * which names one of its collections. Any other task (one that names another collection, or none, so
 * that a request may send it anywhere) is invisible to it: not listed, 404 to read or change.
 */

export async function listTasks(db: Queryable, viewer: CollectionAllowlist = {}): Promise<TaskVersion[]> {
  return (await listActiveTaskVersions(db, viewer.collections)).map(toTaskVersion)
}

export async function listTaskVersions(
  db: Queryable,
  name: string,
  viewer: CollectionAllowlist = {},
): Promise<TaskVersion[]> {
  const task = await findTask(db, name, viewer.collections)
  if (!task) throw taskNotFound(name)
  return (await listTaskVersionRows(db, task.id)).map(toTaskVersion)
}

export async function getTaskVersion(
  db: Queryable,
  name: string,
  version?: number,
  viewer: CollectionAllowlist = {},
): Promise<TaskVersion> {
  const task = await findTask(db, name, viewer.collections)
  if (!task) throw taskNotFound(name)
  const wanted = version ?? task.activeVersion
  const row = wanted === null ? undefined : await findTaskVersionRow(db, task.id, wanted)
  if (!row) throw new AppError('not_found', `Task ${name} has no version ${wanted ?? '(active)'}.`)
  return toTaskVersion(row)
}

/** Point the task at an existing version; requests started after this run it. */
export async function activateTaskVersion(
  db: pg.Pool | pg.PoolClient,
  name: string,
  version: number,
  viewer: CollectionAllowlist = {},
): Promise<TaskVersion> {
  return withTransaction(db, async (client) => {
    const task = await lockTaskIfVisible(client, name, viewer)
    const row = await findTaskVersionRow(client, task.id, version)
    if (!row) throw new AppError('not_found', `Task ${name} has no version ${version}.`)
    await setActiveVersion(client, task.id, version)
    return { ...toTaskVersion(row), active: true }
  })
}

export interface RollBackHooks {
  /** The version to go back to instead of the newest older one (a promotion's), read under the task's lock. */
  target?(client: pg.PoolClient, taskId: number, activeVersion: number | null): Promise<number | undefined>
  /** Record the rollback in the same transaction. */
  done?(client: pg.PoolClient, taskId: number, from: number | null, to: TaskVersionRow): Promise<void>
}

/** Activate the newest version older than the active one (or the version `hooks.target` names). */
export async function rollBackTask(
  db: pg.Pool | pg.PoolClient,
  name: string,
  viewer: CollectionAllowlist = {},
  hooks: RollBackHooks = {},
): Promise<TaskVersion> {
  return withTransaction(db, async (client) => {
    const task = await lockTaskIfVisible(client, name, viewer)
    const versions = await listTaskVersionRows(client, task.id)
    const chosen = await hooks.target?.(client, task.id, task.activeVersion)
    const previous =
      chosen !== undefined
        ? versions.find((v) => v.version === chosen)
        : versions.filter((v) => task.activeVersion !== null && v.version < task.activeVersion).at(-1)
    if (!previous) {
      throw new AppError(
        'conflict',
        `Task ${name} has no version older than the active version ${task.activeVersion}.`,
      )
    }
    await setActiveVersion(client, task.id, previous.version)
    await hooks.done?.(client, task.id, task.activeVersion, previous)
    return { ...toTaskVersion(previous), active: true }
  })
}

function toTaskVersion(row: TaskVersionRow): TaskVersion {
  const definition = definitionOf(row)
  return {
    task: row.taskName,
    version: row.version,
    active: row.active,
    variables: declaredVariables(definition),
    definition,
    createdAt: row.createdAt.toISOString(),
  }
}

function definitionOf(row: TaskVersionRow): TaskDefinition {
  return {
    description: row.description,
    systemPrompt: row.systemPrompt,
    retrieval: row.retrieval,
    route: row.route,
    output: row.output,
    ...(row.temperature !== null ? { temperature: row.temperature } : {}),
    ...(row.maxTokens !== null ? { maxTokens: row.maxTokens } : {}),
  }
}

function taskNotFound(name: string): AppError {
  return new AppError('not_found', `No task named ${name}.`)
}

async function lockTaskIfVisible(client: pg.PoolClient, name: string, viewer: CollectionAllowlist) {
  const existing = await findTask(client, name)
  if (!existing) throw taskNotFound(name)
  const task = await lockOrCreateTask(client, name)
  if (viewer.collections !== undefined && !(await isTaskWithin(client, task.id, viewer.collections)))
    throw taskNotFound(name)
  return task
}

/** A limited key's task must name one of its collections: a task naming none may be sent to any. */
function assertDefinitionWithin(viewer: CollectionAllowlist, definition: TaskDefinition): void {
  const collection = definition.retrieval?.collection
  if (collection === undefined) {
    throw new AppError(
      'forbidden',
      'This API key is limited to some collections; its tasks must name one of them in retrieval.collection.',
    )
  }
  assertCollectionAllowed(viewer, collection)
}

/** Key order differs between a stored jsonb value and a parsed request; compare canonically. */
function sameDefinition(a: TaskDefinition, b: TaskDefinition): boolean {
  return canonical(a) === canonical(b)
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}
