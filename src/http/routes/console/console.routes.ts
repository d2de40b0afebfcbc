import type { OpenAPIHono } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { AppError } from '../../../errors.js'
import type { Services } from '../../../services.js'
import type { AppEnv } from '../../context.js'
import { ASSET_PREFIX, type ConsoleAssets, loadConsoleAssets } from './console-assets.js'
import { CONSOLE_HEADERS, CONSOLE_NOT_BUILT_PAGE, CONSOLE_PAGE } from './console-page.js'

/**
 * The web console at /console: one page, its compiled modules and the vendor libraries, all from this
 * origin. These routes serve static files only and hold no data, so they need no key: the page asks for
 * one and every call it makes goes to the /v1 API with it, like any other client.
 */
export function registerConsoleRoutes(app: OpenAPIHono<AppEnv>, _services: Services): void {
  // Read on first use, not at start: processes that never serve the console never read it.
  let assets: ConsoleAssets | undefined
  const load = () => {
    assets ??= loadConsoleAssets()
    return assets
  }
  const secure = (c: Context<AppEnv>) => {
    for (const [name, value] of Object.entries(CONSOLE_HEADERS)) c.header(name, value)
  }

  app.get('/console', (c) => c.redirect('/console/', 301))

  app.get('/console/', (c) => {
    secure(c)
    c.header('Cache-Control', 'no-cache')
    return load().built ? c.html(CONSOLE_PAGE, 200) : c.html(CONSOLE_NOT_BUILT_PAGE, 503)
  })

  app.get(`${ASSET_PREFIX}*`, (c) => {
    secure(c)
    const found = load().get(c.req.path.slice(ASSET_PREFIX.length))
    if (!found) throw new AppError('not_found', `No console file ${c.req.path}.`)
    c.header('ETag', found.etag)
    // Revalidated on every load (a rebuilt console shows at once), answered 304 when unchanged.
    c.header('Cache-Control', 'no-cache')
    if (c.req.header('if-none-match') === found.etag) return c.body(null, 304)
    c.header('Content-Type', found.type)
    return c.body(found.body as Uint8Array<ArrayBuffer>, 200)
  })
}
