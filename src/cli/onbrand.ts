#!/usr/bin/env node
/**
 * The `onbrand` command (package.json `bin`; the npm scripts call it too): `onbrand server`, `worker`,
 * `migrate`, `keys`, `tasks`, `ingest`. Runs from the compiled output with production dependencies only.
 */
import { COMMANDS } from './commands.js'
import { runCommand } from './run-command.js'

// An explicit exit: a finished command must not wait on pool or timer handles it no longer needs.
process.exit(await runCommand(COMMANDS, process.argv.slice(2)))
