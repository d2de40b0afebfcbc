import { readdir, readFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import type pg from 'pg'
import { AppError } from '../errors.js'
import type { ModelRegistry } from '../generation/model-registry.js'
import { type PutTaskResult, putTask, routeModels } from './manage-tasks.js'
import { TaskDefinition, TaskName } from './task-definition.js'

export interface LoadedTask {
  file: string
  name: string
  created: boolean
  version: number
}

/**
 * Load every `<task-name>.json` in a folder as a task definition, through the same putTask the API's
 * PUT /v1/tasks/{name} uses: unchanged files create no version, changed ones create and activate one.
 * All files are validated before any is stored, so a typo in one leaves the database as it was.
 */
export async function loadTaskDirectory(
  db: pg.Pool,
  models: Pick<ModelRegistry, 'assertRegistered'>,
  dir: string,
  createdBy?: string,
): Promise<LoadedTask[]> {
  const files = (await readdir(dir)).filter((file) => file.endsWith('.json')).sort()
  if (files.length === 0) throw new AppError('not_found', `No .json task files in ${dir}.`)
  const parsed = await Promise.all(
    files.map(async (file) => {
      const name = basename(file, '.json')
      if (!TaskName.safeParse(name).success) {
        throw new AppError(
          'validation_failed',
          `${file}: the file name must be a task name (lowercase, digits, . - _).`,
        )
      }
      let raw: unknown
      try {
        raw = JSON.parse(await readFile(join(dir, file), 'utf8'))
      } catch {
        throw new AppError('validation_failed', `${file}: not valid JSON.`)
      }
      const result = TaskDefinition.safeParse(raw)
      if (!result.success) {
        const issues = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
        throw new AppError('validation_failed', `${file}: ${issues.join('; ')}`)
      }
      return { file, name, definition: result.data }
    }),
  )
  // Every model of every file is checked before any file is stored, as the definitions are.
  await models.assertRegistered(
    parsed.flatMap((task) => routeModels(task.definition.route, `${task.file}: route`)),
  )
  const loaded: LoadedTask[] = []
  for (const task of parsed) {
    const result: PutTaskResult = await putTask(db, {
      models,
      name: task.name,
      definition: task.definition,
      ...(createdBy ? { createdBy } : {}),
    })
    loaded.push({
      file: task.file,
      name: task.name,
      created: result.created,
      version: result.version.version,
    })
  }
  return loaded
}
