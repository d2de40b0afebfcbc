import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

/** The shared corpora, where CI puts them: ../shared beside the repository. Read, never copied. */
export const CORPORA_DIR = join(import.meta.dirname, '..', '..', '..', 'shared', 'corpora')

/** Every file below `dir`, in a stable order. */
export function filesUnder(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((entry) => {
      const path = join(dir, entry)
      return statSync(path).isDirectory() ? filesUnder(path) : [path]
    })
}
