import type pg from 'pg'
import type { CollectionAllowlist } from '../collections/access.js'
import {
  findModelRow,
  insertModelRow,
  type ModelFields,
  type ModelRow,
  type ModelSource,
  updateModelRow,
} from '../db/models.js'
import { FOREIGN_KEY_VIOLATION, pgErrorCode, UNIQUE_VIOLATION } from '../db/pg-errors.js'
import { withTransaction } from '../db/transaction.js'
import { AppError } from '../errors.js'
import type { ModelRegistry } from '../generation/model-registry.js'
import { pricePairs, type RegisterModelRequest, type UpdateModelRequest } from './model-request.js'

/** A registry entry as the API shows it: the stored fields, plus what follows from them. */
export interface ModelView extends Omit<ModelRow, 'createdAt' | 'updatedAt'> {
  /** Both inference prices known: a call's cost can be computed (otherwise it is reported as null). */
  priced: boolean
  /** An endpoint (and the key, when apiKeyEnv names one) is configured in this process. */
  callable: boolean
  /** The window prompts are packed to (the default MODEL_CONTEXT_WINDOW when the row sets none). */
  contextWindow: number
  createdAt: string
  updatedAt: string
}

export function toModelView(
  models: Pick<ModelRegistry, 'resolve' | 'contextWindow'>,
  row: ModelRow,
): ModelView {
  return {
    ...row,
    priced: row.inputPricePer1M !== null && row.outputPricePer1M !== null,
    callable: models.resolve(row.id) !== undefined,
    contextWindow: models.contextWindow(row.id),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  }
}

export async function listModels(models: ModelRegistry): Promise<ModelView[]> {
  models.invalidate()
  await models.ensure([])
  return models.list().map((row) => toModelView(models, row))
}

export async function getModel(models: ModelRegistry, id: string): Promise<ModelView> {
  await models.ensure([id])
  const row = models.get(id)
  if (!row) throw modelNotFound(id)
  return toModelView(models, row)
}

export interface RegisterModelInput {
  request: RegisterModelRequest
  source?: ModelSource
  createdBy?: string
  /** Provenance of a model a fine-tune job produced. */
  fineTuneId?: string
}

/** Add a model; an id already registered is a 409 (PATCH changes it). */
export async function registerModel(
  db: pg.Pool | pg.PoolClient,
  models: ModelRegistry,
  input: RegisterModelInput,
): Promise<ModelView> {
  const { id, ...fields } = input.request
  await models.ensure([]) // the catalog and the models file are in the table before anything is added
  try {
    const row = await insertModelRow(
      db,
      id,
      { ...fields, ...(input.fineTuneId ? { fineTuneId: input.fineTuneId } : {}) },
      input.source ?? 'api',
      input.createdBy ?? null,
    )
    models.invalidate()
    await models.ensure([id])
    return toModelView(models, row)
  } catch (error) {
    throw translateWriteError(error, id) ?? error
  }
}

/** Change some fields of a model (null clears a field); the id and its provenance job stay. */
export async function updateModel(
  db: pg.Pool,
  models: ModelRegistry,
  id: string,
  request: UpdateModelRequest,
): Promise<ModelView> {
  if (Object.keys(request).length === 0)
    throw new AppError('validation_failed', 'Nothing to change: send at least one field.')
  await models.ensure([])
  try {
    const row = await withTransaction(db, async (client) => {
      const current = await findModelRow(client, id)
      if (!current) throw modelNotFound(id)
      const merged = { ...current, ...request } as Record<string, unknown>
      const issues = pricePairs(merged)
      if (merged.kind === 'fine_tuned' && (merged.baseModel ?? null) === null)
        issues.push({ path: ['baseModel'], message: 'required for a fine_tuned model' })
      if (issues.length > 0) {
        throw new AppError('validation_failed', `Model ${id} would be left half described.`, {
          errors: issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
        })
      }
      return (await updateModelRow(client, id, request as Partial<ModelFields>))!
    })
    models.invalidate()
    await models.ensure([id])
    return toModelView(models, row)
  } catch (error) {
    throw translateWriteError(error, id) ?? error
  }
}

/**
 * The registry is shared by every collection: a change to a model reaches every team's tasks (its
 * endpoint receives their prompts), so only an admin key without a collection allowlist makes one.
 */
export function assertMayChangeRegistry(key: CollectionAllowlist | undefined): void {
  if (key?.collections !== undefined) {
    throw new AppError(
      'forbidden',
      'The model registry is shared by every collection: changing it needs an admin key without a collection allowlist.',
    )
  }
}

function translateWriteError(error: unknown, id: string): AppError | undefined {
  const code = pgErrorCode(error)
  if (code === UNIQUE_VIOLATION)
    return new AppError(
      'conflict',
      `Model ${id} is already registered; PATCH /v1/model-registry/${id} changes it.`,
    )
  if (code === FOREIGN_KEY_VIOLATION)
    return new AppError('validation_failed', 'No dataset with that id.', {
      errors: [{ path: 'datasetId', message: 'no such dataset' }],
    })
  return undefined
}

function modelNotFound(id: string): AppError {
  return new AppError('not_found', `No model ${id} in the registry.`)
}
