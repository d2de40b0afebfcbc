import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The folder holding package.json and migrations/, found by walking up from this module so that the
 * same code works from `src/` under tsx and from `dist/src/` after a build.
 */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    if (existsSync(join(dir, 'migrations')) && existsSync(join(dir, 'package.json'))) return dir
    const parent = dirname(dir)
    if (parent === dir)
      throw new Error('could not find the Onbrand project root (migrations/ beside package.json)')
    dir = parent
  }
}
