import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const ROOT = resolve(import.meta.dirname, '..', '..')

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => join(dir, file))
}

const FILES = [...sourceFiles('src'), ...sourceFiles('ingest')]

/** The project files a file imports (static, dynamic and type-only imports alike), relative to ROOT. */
function importsOf(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(join(ROOT, file), 'utf8'), true, true)
  return importedFiles
    .map((imported) => imported.fileName)
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) => relative(ROOT, resolve(ROOT, dirname(file), specifier)).replace(/\.js$/, '.ts'))
}

/** Every import edge from a file matching `from` to a file matching `to`, as "a -> b". */
function edges(from: (file: string) => boolean, to: (target: string, file: string) => boolean): string[] {
  return FILES.filter(from).flatMap((file) =>
    importsOf(file)
      .filter((target) => to(target, file))
      .map((target) => `${file} -> ${target}`),
  )
}

const inHttp = (file: string) => file.startsWith('src/http/')
const WIRING = ['src/app.ts', 'src/server.ts']

describe('the layers of the code', () => {
  it('sees the imports it checks (the checker itself works)', () => {
    expect(importsOf('src/app.ts')).toContain('src/http/error-handler.ts')
    expect(importsOf('src/cli/commands.ts')).toContain('src/cli/server-command.ts')
  })

  it('keeps domain code off HTTP: only src/http and the app/server wiring import from src/http', () => {
    expect(edges((file) => !inHttp(file) && !WIRING.includes(file), inHttp)).toEqual([])
  })

  it('lets nothing but the server import the app', () => {
    expect(
      edges(
        (file) => file !== 'src/server.ts',
        (target) => target === 'src/app.ts',
      ),
    ).toEqual([])
  })

  it('keeps route folders apart: a route never imports another resource’s route files', () => {
    const resource = (file: string) => /^src\/http\/routes\/([^/]+)\//.exec(file)?.[1]
    expect(
      edges(
        (file) => resource(file) !== undefined,
        (target, file) => resource(target) !== undefined && resource(target) !== resource(file),
      ),
    ).toEqual([])
  })

  it('keeps SQL in src/db: no other module runs a query', () => {
    const outside = FILES.filter((file) => !file.startsWith('src/db/')).filter((file) =>
      /\.query(<[^>]*>)?\(/.test(readFileSync(join(ROOT, file), 'utf8')),
    )
    expect(outside).toEqual([])
  })
})
