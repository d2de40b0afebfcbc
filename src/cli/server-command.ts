import { runServer } from '../server.js'
import { parseCommandArgs } from './run-command.js'

export const usage = `Usage:
  onbrand server      serve the API on HOST:PORT until SIGTERM or SIGINT (configuration: README.md)`

export async function run(args: string[]): Promise<number> {
  parseCommandArgs(usage, args, {})
  return runServer()
}
