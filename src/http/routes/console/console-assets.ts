import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { extname, join, relative, sep } from 'node:path'
import { projectRoot } from '../../../lib/project-root.js'

/** One file the console serves, read once and kept in memory (the whole console is well under 1 MB). */
export interface ConsoleAsset {
  body: Uint8Array
  type: string
  etag: string
}

/** Where the compiled console lives: `npm run build:console` (run by `npm start` and `npm run build`) writes it. */
export const CONSOLE_BUILD_DIR = join('dist', 'console')

/** URL prefix of every asset; the page itself is /console/. */
export const ASSET_PREFIX = '/console/assets/'

/**
 * The libraries the browser loads, served from the project's own node_modules (production dependencies,
 * so the image has them): URL path under ASSET_PREFIX → file or folder. Only `.js`/`.mjs` files of a
 * folder are served. The import map (console-page.ts) gives the bare names the console's modules use.
 */
const VENDOR: Record<string, string> = {
  'vendor/preact.mjs': 'preact/dist/preact.mjs',
  'vendor/preact-hooks.mjs': 'preact/hooks/dist/hooks.mjs',
  'vendor/preact-jsx-runtime.mjs': 'preact/jsx-runtime/dist/jsxRuntime.mjs',
  'vendor/diff/': 'diff/libesm',
  // uPlot (canvas charts, no inline styles or scripts): the insights page's charts.
  'vendor/uplot.mjs': 'uplot/dist/uPlot.esm.js',
  'vendor/uplot.css': 'uplot/dist/uPlot.min.css',
}

/** Bare module names → URLs, for the page's import map. */
export const IMPORTS: Record<string, string> = {
  preact: `${ASSET_PREFIX}vendor/preact.mjs`,
  'preact/hooks': `${ASSET_PREFIX}vendor/preact-hooks.mjs`,
  'preact/jsx-runtime': `${ASSET_PREFIX}vendor/preact-jsx-runtime.mjs`,
  diff: `${ASSET_PREFIX}vendor/diff/index.js`,
  uplot: `${ASSET_PREFIX}vendor/uplot.mjs`,
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
}

function asset(file: string): ConsoleAsset | undefined {
  const type = TYPES[extname(file)]
  if (type === undefined || !existsSync(file)) return undefined
  const body = readFileSync(file)
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` }
}

function addFolder(into: Map<string, ConsoleAsset>, urlPrefix: string, dir: string): void {
  for (const name of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const file = join(dir, name)
    if (!statSync(file).isFile()) continue
    const found = asset(file)
    if (found) into.set(urlPrefix + relative(dir, file).split(sep).join('/'), found)
  }
}

export interface ConsoleAssets {
  /** False when the console's own modules have not been compiled (the page then says how to build them). */
  built: boolean
  /** The asset at a path under ASSET_PREFIX; only files listed at load time exist, so no path can escape. */
  get(path: string): ConsoleAsset | undefined
}

/**
 * Read every file the console serves: its compiled modules and static files from dist/console, and the
 * vendor libraries from node_modules. The table is fixed at load time: a request can only name a key of
 * it, never a path on disk.
 */
export function loadConsoleAssets(root = projectRoot()): ConsoleAssets {
  const files = new Map<string, ConsoleAsset>()
  const buildDir = join(root, CONSOLE_BUILD_DIR)
  const built = existsSync(join(buildDir, 'app', 'main.js'))
  if (built) addFolder(files, '', buildDir)
  for (const [url, source] of Object.entries(VENDOR)) {
    const path = join(root, 'node_modules', source)
    if (url.endsWith('/')) {
      if (existsSync(path)) addFolder(files, url, path)
    } else {
      const found = asset(path)
      if (found) files.set(url, found)
    }
  }
  return { built, get: (path) => files.get(path) }
}
