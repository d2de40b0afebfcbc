import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const ROOT = resolve(import.meta.dirname, '..', '..')

/**
 * What each part of the code may import (besides itself and npm packages): the map in the README's
 * Development section, checked. `types` are folders it may import types from, and nothing else.
 */
const LAYERS: Record<string, { imports: string[]; types?: string[] }> = {
  'src/lib': { imports: [] },
  'src/errors.ts': { imports: [] },
  'src/config.ts': { imports: [] },
  'src/logger.ts': { imports: [] },
  'src/tokens': { imports: [] },
  'src/db': { imports: ['src/lib', 'src/config.ts'], types: ['src/auth', 'src/generation', 'src/tasks'] },
  'src/embedding': { imports: ['src/config.ts'] },
  'src/observability': { imports: ['src/db'] },
  'src/collections': { imports: ['src/db', 'src/errors.ts'] },
  'src/auth': { imports: ['src/collections', 'src/db', 'src/errors.ts'] },
  'src/retrieval': {
    imports: [
      'src/collections',
      'src/config.ts',
      'src/db',
      'src/embedding',
      'src/errors.ts',
      'src/observability',
    ],
  },
  'src/generation': {
    imports: [
      'src/collections',
      'src/config.ts',
      'src/db',
      'src/errors.ts',
      'src/lib',
      'src/observability',
      'src/retrieval',
      'src/tokens',
    ],
    types: ['src/auth'],
  },
  'src/tasks': { imports: ['src/collections', 'src/db', 'src/errors.ts', 'src/generation', 'src/retrieval'] },
  'src/datasets': {
    imports: ['src/collections', 'src/db', 'src/errors.ts', 'src/generation', 'src/tokens'],
    types: ['src/auth'],
  },
  'src/evals': {
    imports: [
      'src/collections',
      'src/db',
      'src/errors.ts',
      'src/generation',
      'src/jobs',
      'src/tasks',
      'src/tokens',
    ],
    types: ['src/auth', 'src/embedding', 'src/observability'],
  },
  'src/review': {
    imports: ['src/collections', 'src/db', 'src/errors.ts', 'src/generation', 'src/tokens'],
    types: ['src/auth'],
  },
  'src/insights': {
    imports: ['src/datasets', 'src/db', 'src/errors.ts', 'src/evals', 'src/generation', 'src/tokens'],
    types: ['src/collections'],
  },
  'src/jobs': { imports: ['src/db', 'src/errors.ts', 'src/lib', 'src/observability'] },
  'src/models': {
    imports: [
      'src/config.ts',
      'src/datasets',
      'src/db',
      'src/errors.ts',
      'src/evals',
      'src/generation',
      'src/jobs',
      'src/observability',
      'src/tasks',
    ],
    types: ['src/auth', 'src/collections'],
  },
  'ingest/loaders': { imports: [] },
  'ingest/chunking': { imports: ['ingest/loaders', 'src/tokens'] },
  'ingest/pipeline': {
    imports: [
      'ingest/chunking',
      'ingest/loaders',
      'src/config.ts',
      'src/db',
      'src/embedding',
      'src/lib',
      'src/observability',
    ],
    types: ['src/jobs'],
  },
  'ingest/jobs': {
    imports: [
      'ingest/loaders',
      'ingest/pipeline',
      'src/collections',
      'src/db',
      'src/errors.ts',
      'src/jobs',
      'src/lib',
      'src/observability',
    ],
  },
  'src/services.ts': {
    imports: [
      'ingest/pipeline',
      'src/auth',
      'src/config.ts',
      'src/db',
      'src/embedding',
      'src/evals',
      'src/generation',
      'src/jobs',
      'src/lib',
      'src/models',
      'src/logger.ts',
      'src/observability',
      'src/retrieval',
      'src/tasks',
    ],
  },
  'src/http': {
    imports: [
      'ingest/jobs',
      'src/auth',
      'src/collections',
      'src/datasets',
      'src/db',
      'src/errors.ts',
      'src/evals',
      'src/generation',
      'src/insights',
      'src/lib',
      'src/models',
      'src/observability',
      'src/retrieval',
      'src/review',
      'src/services.ts',
      'src/tasks',
    ],
  },
  'src/app.ts': { imports: ['src/errors.ts', 'src/http', 'src/services.ts'] },
  'src/server.ts': { imports: ['ingest/jobs', 'src/app.ts', 'src/auth', 'src/services.ts'] },
  'src/cli': {
    imports: [
      'ingest/jobs',
      'ingest/loaders',
      'ingest/pipeline',
      'src/auth',
      'src/collections',
      'src/config.ts',
      'src/datasets',
      'src/db',
      'src/errors.ts',
      'src/evals',
      'src/insights',
      'src/lib',
      'src/models',
      'src/server.ts',
      'src/services.ts',
      'src/tasks',
    ],
  },
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => join(dir, file))
}

const FILES = [...sourceFiles('src'), ...sourceFiles('ingest')]

/** The part of the code a file belongs to: a key of LAYERS. */
function layerOf(file: string): string {
  const parts = file.split('/')
  return parts.length === 2 ? file : `${parts[0]}/${parts[1]}`
}

interface Import {
  target: string
  typeOnly: boolean
}

/** The project files a file imports (static, dynamic, re-exports), relative to ROOT. */
function importsOf(file: string): Import[] {
  const source = ts.createSourceFile(file, readFileSync(join(ROOT, file), 'utf8'), ts.ScriptTarget.Latest)
  const found: Import[] = []
  const add = (specifier: ts.Expression | undefined, typeOnly: boolean) => {
    if (!specifier || !ts.isStringLiteral(specifier) || !specifier.text.startsWith('.')) return
    const target = relative(ROOT, resolve(ROOT, dirname(file), specifier.text)).replace(/\.js$/, '.ts')
    found.push({ target, typeOnly })
  }
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause
      const bindings = clause?.namedBindings
      const allTypes =
        clause?.isTypeOnly === true ||
        (clause?.name === undefined &&
          bindings !== undefined &&
          ts.isNamedImports(bindings) &&
          bindings.elements.every((element) => element.isTypeOnly))
      add(node.moduleSpecifier, allTypes)
    } else if (ts.isExportDeclaration(node)) {
      add(node.moduleSpecifier, node.isTypeOnly)
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node.arguments[0], false)
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found
}

describe('the layers of the code', () => {
  it('sees the imports it checks (the checker itself works)', () => {
    expect(importsOf('src/app.ts')).toContainEqual({ target: 'src/http/error-handler.ts', typeOnly: false })
    expect(importsOf('src/app.ts')).toContainEqual({ target: 'src/services.ts', typeOnly: true })
    expect(importsOf('src/cli/commands.ts')).toContainEqual({
      target: 'src/cli/server-command.ts',
      typeOnly: false,
    })
  })

  it('places every file in a part of the map', () => {
    expect(FILES.filter((file) => LAYERS[layerOf(file)] === undefined)).toEqual([])
  })

  it('lets each part import only what the map allows it (so the map in the README is true)', () => {
    const wrong = FILES.flatMap((file) => {
      const from = layerOf(file)
      const allowed = LAYERS[from]
      if (!allowed) return []
      return importsOf(file)
        .filter(({ target, typeOnly }) => {
          const to = layerOf(target)
          if (to === from || allowed.imports.includes(to)) return false
          return !(typeOnly && allowed.types?.includes(to))
        })
        .map(({ target, typeOnly }) => `${file} -> ${target}${typeOnly ? ' (types)' : ''}`)
    })
    expect(wrong).toEqual([])
  })

  it('keeps route folders apart: a route never imports another resource’s route files', () => {
    const resource = (file: string) => /^src\/http\/routes\/([^/]+)\//.exec(file)?.[1]
    const crossing = FILES.filter((file) => resource(file) !== undefined).flatMap((file) =>
      importsOf(file)
        .filter(({ target }) => resource(target) !== undefined && resource(target) !== resource(file))
        .map(({ target }) => `${file} -> ${target}`),
    )
    expect(crossing).toEqual([])
  })

  it('keeps SQL in src/db: no other module runs a query', () => {
    const outside = FILES.filter((file) => !file.startsWith('src/db/')).filter((file) =>
      /\.query(<[^>]*>)?\(/.test(readFileSync(join(ROOT, file), 'utf8')),
    )
    expect(outside).toEqual([])
  })

  it('has a line in the README map for every part', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
    const development = readme.slice(readme.indexOf('## Development'))
    const missing = Object.keys(LAYERS).filter(
      (part) => !development.includes(`| \`${part.endsWith('.ts') ? part : `${part}/`}\` |`),
    )
    expect(missing).toEqual([])
  })
})
