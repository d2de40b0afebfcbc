import { readdirSync, readFileSync, statSync } from 'node:fs'
import { basename, join, relative } from 'node:path'
import type { JobFile } from '../../ingest/loaders/load-files.js'

/**
 * The files named on the command line: a folder contributes every file under it, named by its path
 * relative to that folder (the guideline's source id); a file is named by its base name. Hidden
 * files and folders (.git, .DS_Store) are skipped. Order is stable, so re-runs compare like with like.
 */
export function readSources(paths: string[]): JobFile[] {
  const files: JobFile[] = []
  for (const path of paths) {
    const stat = statSync(path)
    if (!stat.isDirectory()) {
      files.push({ name: basename(path), content: readFileSync(path) })
      continue
    }
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir).sort()) {
        if (entry.startsWith('.')) continue
        const full = join(dir, entry)
        if (statSync(full).isDirectory()) walk(full)
        else files.push({ name: relative(path, full).split('\\').join('/'), content: readFileSync(full) })
      }
    }
    walk(path)
  }
  return files
}
