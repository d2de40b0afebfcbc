import { inspect, type ParseArgsConfig, parseArgs } from 'node:util'
import { ConfigError } from '../config.js'
import { AppError } from '../errors.js'
import { StartupError } from '../lib/startup-error.js'

/** How a command ends, as the README promises: scripts and CI read these. */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  /** Finished, but some files or rows were rejected (listed in the output). */
  rejected: 3,
} as const

/** What a command module exports. */
interface CommandModule {
  usage: string
  /** Resolves with the exit code; throws for failures, which runCommand reports. */
  run(args: string[]): Promise<number>
}

/**
 * One `onbrand` subcommand. Its module is imported only when it runs, so a command (or a typo, or
 * --help) does not pay for importing every other one.
 */
export interface Command {
  name: string
  summary: string
  load(): Promise<CommandModule>
}

/** Wrong arguments: the message and the usage are shown, and the exit code is 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

/** node:util parseArgs, with its errors (unknown option, missing value) turned into usage errors. */
export function parseCommandArgs<O extends NonNullable<ParseArgsConfig['options']>>(
  usage: string,
  args: string[],
  options: O,
) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      throw new UsageError(`${(error as Error).message}\n\n${usage}`)
    }
    throw error
  }
}

/** A comma-separated option as a list, blanks dropped; undefined when the option was not given. */
export function splitList(value: string | undefined): string[] | undefined {
  return value
    ?.split(',')
    .map((item) => item.trim())
    .filter(Boolean)
}

/** Run the subcommand `argv` names; known failures become one clear line on stderr. */
export async function runCommand(commands: readonly Command[], argv: string[]): Promise<number> {
  const [name, ...args] = argv
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(`${overview(commands)}\n`)
    return EXIT.ok
  }
  const command = commands.find((candidate) => candidate.name === name)
  if (!command) {
    process.stderr.write(`Unknown command "${name}".\n\n${overview(commands)}\n`)
    return EXIT.usage
  }
  try {
    const { usage, run } = await command.load()
    if (args.includes('--help') || args.includes('-h')) {
      process.stdout.write(`${usage}\n`)
      return EXIT.ok
    }
    return await run(args)
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError || error instanceof StartupError) {
      process.stderr.write(`${error.message}\n`)
    } else if (error instanceof AppError) {
      process.stderr.write(`error: ${error.detail}\n`)
    } else {
      // Not every library throws Errors (PGlite throws plain objects): never print "[object Object]".
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : inspect(error)}\n`)
    }
    return error instanceof UsageError ? EXIT.usage : EXIT.failed
  }
}

function overview(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((command) => command.name.length))
  return [
    'Usage: onbrand <command> [options]   (onbrand <command> --help for its options)',
    '',
    ...commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    'Exit status: 0 success, 1 failure, 2 bad usage, 3 finished with rejected files or rows.',
  ].join('\n')
}
