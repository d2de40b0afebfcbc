import { buildConsole } from '../../console/build.js'

/** vitest globalSetup: the console's modules compiled once before any test file serves them. */
export function setup(): void {
  buildConsole({ ifStale: true })
}
