import { withServices } from '../services.js'
import { loadTaskDirectory } from '../tasks/load-tasks.js'
import { listTasks } from '../tasks/manage-tasks.js'
import { EXIT, parseCommandArgs, UsageError } from './run-command.js'

export const usage = `Usage:
  onbrand tasks load DIR     load every <task-name>.json in DIR (e.g. examples/tasks)
  onbrand tasks list         list tasks and their active versions`

export async function run(args: string[]): Promise<number> {
  const { positionals } = parseCommandArgs(usage, args, {})
  const [action, ...rest] = positionals
  if (action !== 'load' && action !== 'list') {
    throw new UsageError(`${action ? `Unknown action "${action}"` : 'Name an action'}\n\n${usage}`)
  }
  const dir = rest[0]
  if (action === 'load' && (dir === undefined || rest.length !== 1)) {
    throw new UsageError(`load takes one folder\n\n${usage}`)
  }
  return withServices({ quiet: true }, async ({ db, models }) => {
    if (dir !== undefined) {
      for (const task of await loadTaskDirectory(db.pool, models, dir)) {
        const what = task.created ? `created version ${task.version}` : `unchanged (version ${task.version})`
        process.stdout.write(`${task.name}: ${what}\n`)
      }
    } else {
      for (const task of await listTasks(db.pool)) {
        process.stdout.write(
          `${task.task}\tv${task.version}\t${task.definition.route.strategy}\t${task.definition.description}\n`,
        )
      }
    }
    return EXIT.ok
  })
}
