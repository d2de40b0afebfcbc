import { withServices } from '../services.js'
import { EXIT, parseCommandArgs } from './run-command.js'

export const usage = `Usage:
  onbrand migrate      apply pending migrations (every process also does this at start)`

export async function run(args: string[]): Promise<number> {
  parseCommandArgs(usage, args, {})
  // Opening the services applies pending migrations and logs what it applied.
  return withServices({}, async ({ db, migrations }) => {
    process.stdout.write(`Database schema is at version ${migrations.length} (${db.kind}).\n`)
    return EXIT.ok
  })
}
