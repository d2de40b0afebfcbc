import { createHash } from 'node:crypto'
import { ASSET_PREFIX, IMPORTS } from './console-assets.js'

// The import map is the page's only inline script; its hash in script-src allows exactly this text.
const IMPORT_MAP = JSON.stringify({ imports: IMPORTS })
const IMPORT_MAP_HASH = `'sha256-${createHash('sha256').update(IMPORT_MAP).digest('base64')}'`

/**
 * Nothing but this origin: no inline code except the hashed import map, no inline styles, no frames,
 * no plugins, no form posts, no <base>. The API key travels in an Authorization header set by fetch.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  `script-src 'self' ${IMPORT_MAP_HASH}`,
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

/** Headers of every console response (page and assets). */
export const CONSOLE_HEADERS: Record<string, string> = {
  'Content-Security-Policy': CONSOLE_CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), payment=()',
}

const HEAD = `<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Onbrand console</title>
<link rel="icon" href="${ASSET_PREFIX}favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="${ASSET_PREFIX}vendor/uplot.css">
<link rel="stylesheet" href="${ASSET_PREFIX}console.css">`

/** The console's single page; the modules render everything else (hash routes, so one URL serves all). */
export const CONSOLE_PAGE = `<!doctype html>
<html lang="en">
<head>
${HEAD}
<script type="importmap">${IMPORT_MAP}</script>
<script type="module" src="${ASSET_PREFIX}app/main.js"></script>
</head>
<body>
<div id="app"><noscript><p class="notice">The Onbrand console needs JavaScript.</p></noscript></div>
</body>
</html>
`

/** Served instead when the console's modules have not been compiled, saying how to fix it. */
export const CONSOLE_NOT_BUILT_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Onbrand console: not built</title>
</head>
<body>
<h1>The console is not built</h1>
<p>This server found no compiled console in <code>dist/console</code>. Run <code>npm run build:console</code>
(<code>npm start</code> and <code>npm run build</code> run it for you), then reload.</p>
</body>
</html>
`
