import type pg from 'pg'
import type { CollectionAllowlist } from '../collections/access.js'
import { AppError } from '../errors.js'
import type { ModelRegistry } from '../generation/model-registry.js'
import { getTaskVersion, putTask } from '../tasks/manage-tasks.js'
import type { TaskVersion } from '../tasks/task-definition.js'
import { DEFAULT_STAGED_SHARE } from './fine-tune-request.js'

/**
 * Stage a model as the fine-tuned arm of a split: a new version of the task, copied from the active one,
 * NOT activated (activate it, or promote the model, once an evaluation says so). The foundation model
 * and the fine-tuned template of the active version are kept.
 */
export async function stageModel(
  db: pg.Pool,
  models: Pick<ModelRegistry, 'assertRegistered'>,
  input: { task: string; model: string; share?: number; createdBy?: string; viewer?: CollectionAllowlist },
): Promise<TaskVersion> {
  const active = await getTaskVersion(db, input.task, undefined, input.viewer)
  const { route } = active.definition
  if (route.foundationModel === input.model)
    throw new AppError('conflict', `${input.model} is the task's foundation model; stage another model.`)
  const { version } = await putTask(db, {
    models,
    name: input.task,
    definition: {
      ...active.definition,
      route: {
        ...route,
        strategy: 'split',
        fineTunedModel: input.model,
        share: input.share ?? DEFAULT_STAGED_SHARE,
      },
    },
    activate: false,
    ...(input.createdBy ? { createdBy: input.createdBy } : {}),
    ...(input.viewer ? { viewer: input.viewer } : {}),
  })
  return version
}
