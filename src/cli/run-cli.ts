import { ConfigError } from '../config.js'
import { AppError } from '../errors.js'
import { StartupError } from '../lib/startup-error.js'

/** Run a CLI's main, turning known errors into one clear line and a non-zero exit. */
export function runCli(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      if (error instanceof ConfigError || error instanceof StartupError || error instanceof UsageError) {
        process.stderr.write(`${error.message}\n`)
      } else if (error instanceof AppError) {
        process.stderr.write(`error: ${error.detail}\n`)
      } else {
        process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
      }
      process.exit(error instanceof UsageError ? 2 : 1)
    },
  )
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}
