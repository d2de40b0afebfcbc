import { parseArgs } from 'node:util'
import { runCli, UsageError } from '../cli/run-cli.js'
import { loadConfig } from '../config.js'
import { openMigratedDatabase } from '../db/migrate.js'
import { createLogger } from '../logger.js'
import { loadTaskDirectory } from './load-tasks.js'
import { listTasks } from './manage-tasks.js'

const USAGE = `Usage:
  npm run tasks -- load DIR     load every <task-name>.json in DIR (e.g. examples/tasks)
  npm run tasks -- list         list tasks and their active versions
  npm run tasks:load            same as: npm run tasks -- load examples/tasks`

runCli(async () => {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { help: { type: 'boolean', short: 'h' } },
  })
  const [command, ...rest] = positionals
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`)
    return
  }
  if (command !== 'load' && command !== 'list') throw new UsageError(`Unknown command ${command}\n${USAGE}`)
  if (command === 'load' && rest.length !== 1) throw new UsageError(`load takes one folder\n${USAGE}`)
  const config = loadConfig()
  const { db } = await openMigratedDatabase(config, createLogger('warn'))
  try {
    if (command === 'load') {
      for (const task of await loadTaskDirectory(db.pool, rest[0]!)) {
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
  } finally {
    await db.close()
  }
})
