import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConsoleAssets } from '../../src/http/routes/console/console-assets.js'
import { createTestApp, type TestApp } from '../support/test-app.js'

let t: TestApp
beforeAll(async () => {
  t = await createTestApp()
})
afterAll(async () => t.close())

const get = (path: string, headers: Record<string, string> = {}) => t.app.request(path, { headers })

/** The script URLs and inline scripts of the page. */
function scriptsOf(html: string): { srcs: string[]; inline: string[] } {
  const srcs = [...html.matchAll(/<script[^>]*\bsrc="([^"]+)"/g)].map((m) => m[1]!)
  const inline = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)]
    .filter((m) => !/\bsrc=/.test(m[1]!))
    .map((m) => m[2]!)
  return { srcs, inline }
}

describe('the console page', () => {
  it('is served at /console/ without a key, and /console redirects there', async () => {
    const res = await get('/console/')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/html/)
    const redirect = await get('/console')
    expect(redirect.status).toBe(301)
    expect(redirect.headers.get('location')).toBe('/console/')
  })

  it('sends a strict Content-Security-Policy and the other protective headers', async () => {
    const res = await get('/console/')
    const csp = res.headers.get('content-security-policy') ?? ''
    const directives = Object.fromEntries(
      csp.split(';').map((d) => {
        const [name, ...values] = d.trim().split(/\s+/)
        return [name, values]
      }),
    )
    expect(directives['default-src']).toEqual(["'none'"])
    expect(directives['frame-ancestors']).toEqual(["'none'"])
    expect(directives['style-src']).toEqual(["'self'"])
    expect(directives['connect-src']).toEqual(["'self'"])
    expect(directives['base-uri']).toEqual(["'none'"])
    expect(csp).not.toContain('unsafe-inline')
    expect(csp).not.toContain('unsafe-eval')
    expect(csp).not.toMatch(/https?:/)
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    expect(res.headers.get('referrer-policy')).toBe('no-referrer')
    expect(res.headers.get('x-frame-options')).toBe('DENY')
  })

  it('has one inline script, the import map, and the policy allows exactly that text by its hash', async () => {
    const res = await get('/console/')
    const html = await res.text()
    const { inline } = scriptsOf(html)
    expect(inline).toHaveLength(1)
    const hash = createHash('sha256').update(inline[0]!).digest('base64')
    const scriptSrc = /script-src ([^;]+)/.exec(res.headers.get('content-security-policy') ?? '')?.[1] ?? ''
    expect(scriptSrc.split(/\s+/).sort()).toEqual(["'self'", `'sha256-${hash}'`].sort())
    expect(html).toMatch(/<script type="importmap">/)
  })

  it('loads nothing from another origin: every script, style and import is a path here that answers', async () => {
    const html = await (await get('/console/')).text()
    const { srcs, inline } = scriptsOf(html)
    const links = [...html.matchAll(/<link[^>]*\bhref="([^"]+)"/g)].map((m) => m[1]!)
    const imports = Object.values(JSON.parse(inline[0]!).imports as Record<string, string>)
    const urls = [...srcs, ...links, ...imports]
    expect(urls.length).toBeGreaterThanOrEqual(6)
    for (const url of urls) {
      expect(url, url).toMatch(/^\/console\/assets\//)
      const res = await get(url)
      expect(res.status, url).toBe(200)
    }
  })
})

describe('console assets', () => {
  it('serves compiled modules and vendor libraries with their types, an ETag and 304 on revalidation', async () => {
    const main = await get('/console/assets/app/main.js')
    expect(main.status).toBe(200)
    expect(main.headers.get('content-type')).toMatch(/^text\/javascript/)
    expect(await main.text()).toContain("from './app.js'")
    const preact = await get('/console/assets/vendor/preact.mjs')
    expect(preact.status).toBe(200)
    const css = await get('/console/assets/console.css')
    expect(css.headers.get('content-type')).toMatch(/^text\/css/)
    const etag = css.headers.get('etag')!
    expect(etag).toMatch(/^".+"$/)
    const again = await get('/console/assets/console.css', { 'if-none-match': etag })
    expect(again.status).toBe(304)
  })

  it('answers 404 problem+json for files it does not have, whatever the path tries', async () => {
    for (const path of [
      '/console/assets/nope.js',
      '/console/assets/../../package.json',
      '/console/assets/%2e%2e/%2e%2e/package.json',
      '/console/assets/vendor/diff/../package.json',
      '/console/assets/vendor/diff/index.d.ts',
      '/console/assets/.built',
    ]) {
      const res = await get(path)
      expect(res.status, path).toBe(404)
      expect(res.headers.get('content-type'), path).toMatch(/problem\+json/)
    }
  })

  it('serves only files found at load time; without a build it knows, so the page can say how to build', () => {
    const root = mkdtempSync(join(tmpdir(), 'onbrand-console-'))
    mkdirSync(join(root, 'node_modules', 'preact', 'dist'), { recursive: true })
    writeFileSync(join(root, 'node_modules', 'preact', 'dist', 'preact.mjs'), 'export {}')
    const assets = loadConsoleAssets(root)
    expect(assets.built).toBe(false)
    expect(assets.get('vendor/preact.mjs')?.type).toMatch(/javascript/)
    expect(assets.get('app/main.js')).toBeUndefined()
  })
})
