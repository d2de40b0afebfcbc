import { existsSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { type Browser, chromium, type Page } from 'playwright-core'
import { type OpenAIStub, startOpenAIStub } from '../support/openai-stub.js'
import { type ServerProcess, spawnServer } from '../support/spawn-server.js'
import { createTestDatabase } from '../support/test-db.js'

/**
 * The console's browser tests drive Debian's Chromium (`apt-get install chromium`; CI installs it) with
 * playwright-core, against a real `onbrand server` started from source, the OpenAI stub as its provider.
 * Without Chromium they are skipped with a message, unless CI is set or CONSOLE_BROWSER_TESTS=required,
 * where a missing browser fails them: CI must really run them.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
export const BROWSER_AVAILABLE = existsSync(CHROMIUM)
export const BROWSER_REQUIRED = Boolean(process.env.CI) || process.env.CONSOLE_BROWSER_TESTS === 'required'

export function skipReason(): string | undefined {
  if (BROWSER_AVAILABLE) return undefined
  if (BROWSER_REQUIRED) {
    throw new Error(
      `Chromium is required for the console's browser tests (CI or CONSOLE_BROWSER_TESTS=required) but ${CHROMIUM} does not exist: apt-get install -y chromium, or set CHROMIUM_PATH.`,
    )
  }
  return `console browser tests skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`
}

/** Where screenshots go: docs/console when UPDATE_SCREENSHOTS=1 (the README shows them), else a temp folder. */
export const SCREENSHOT_DIR = process.env.UPDATE_SCREENSHOTS
  ? resolve(import.meta.dirname, '..', '..', 'docs', 'console')
  : join(tmpdir(), 'onbrand-console-screenshots')

export interface ConsoleRig {
  browser: Browser
  server: ServerProcess
  stub: OpenAIStub
  baseUrl: string
  adminKey: string
  /** A new tab at 1366×768 (a laptop screen) that records console errors and CSP violations. */
  newPage(): Promise<{ page: Page; problems: string[] }>
  screenshot(page: Page, name: string): Promise<void>
  api(path: string, init?: { method?: string; json?: unknown; key?: string }): Promise<Response>
  close(): Promise<void>
}

export async function startConsoleRig(env: Record<string, string> = {}): Promise<ConsoleRig> {
  const stub = await startOpenAIStub()
  const db = process.env.TEST_DATABASE_URL ? await createTestDatabase() : undefined
  const server = await spawnServer(
    {
      OPENAI_BASE_URL: stub.url,
      OPENAI_API_KEY: 'stub-key',
      EMBEDDING_DIMENSIONS: '64',
      WORKER_POLL_MS: '100',
      RATE_LIMIT_RPM: '0',
      ...(db?.url ? { DATABASE_URL: db.url } : {}),
      ...env,
    },
    // A fresh embedded database is created at start: on a busy machine that alone can take a minute.
    { readyTimeoutMs: 180_000 },
  )
  const adminKey = /onb_[a-z0-9]{12}_[A-Za-z0-9_-]{43}/.exec(server.output())?.[0]
  if (!adminKey) throw new Error(`the server printed no admin key:\n${server.output()}`)
  // launch() gives each run a fresh, temporary profile (user-data-dir) of its own.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
  mkdirSync(SCREENSHOT_DIR, { recursive: true })
  const baseUrl = server.baseUrl
  return {
    browser,
    server,
    stub,
    baseUrl,
    adminKey,
    async newPage() {
      const context = await browser.newContext({ viewport: { width: 1366, height: 768 } })
      const page = await context.newPage()
      const problems: string[] = []
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(message.text())
      })
      page.on('pageerror', (error) => problems.push(error.message))
      return { page, problems }
    },
    async screenshot(page, name) {
      await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: false })
    },
    api(path, init = {}) {
      const headers: Record<string, string> = { authorization: `Bearer ${init.key ?? adminKey}` }
      if (init.json !== undefined) headers['content-type'] = 'application/json'
      return fetch(`${baseUrl}${path}`, {
        method: init.method ?? (init.json === undefined ? 'GET' : 'POST'),
        headers,
        body: init.json === undefined ? undefined : JSON.stringify(init.json),
      })
    },
    async close() {
      await browser.close().catch(() => undefined)
      server.child.kill('SIGTERM')
      await server.exited
      await stub.close()
      await db?.close()
    },
  }
}
