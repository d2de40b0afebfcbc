import { Writable } from 'node:stream'
import { type App, createApp } from '../../src/app.js'
import type { Scope } from '../../src/auth/api-keys.js'
import { createKey } from '../../src/auth/manage-keys.js'
import { type Config, loadConfig } from '../../src/config.js'
import { loadMigrations } from '../../src/db/migrate.js'
import type { Database } from '../../src/db/pool.js'
import { createLogger } from '../../src/logger.js'
import type { Metrics } from '../../src/observability/metrics.js'
import { buildServices, type ServiceOverrides, type Services } from '../../src/services.js'
import { createTestDatabase } from './test-db.js'

/** Tests read arbitrary JSON bodies; typing each one would only restate the assertions. */
export async function json(res: Response): Promise<any> {
  return res.json()
}

export interface TestApp {
  app: App
  /** The services the app was built from (buildServices), for tests that reach past HTTP. */
  services: Services
  db: Database
  config: Config
  /** The app's metrics: hand them to code run beside the app (an ingest worker) to see its counts on /metrics. */
  metrics: Metrics
  /** Every log line the app wrote, parsed. */
  logs: Record<string, unknown>[]
  adminKey: string
  /** Write the app's queued generation rows and token charges now (they are written in batches). */
  flush(): Promise<void>
  makeKey(scopes: Scope[], collections?: string[]): Promise<{ id: string; key: string }>
  request(path: string, init?: RequestInit & { key?: string; json?: unknown }): Promise<Response>
  close(): Promise<void>
}

/**
 * An app over a migrated test database of its own (see createTestDatabase), built the way the server
 * builds it: configuration from `env`, every service from buildServices, with `overrides` (chat models,
 * embedders, model registry, metrics) swapped in where a test brings its own.
 */
export async function createTestApp(
  env: Record<string, string> = {},
  overrides: ServiceOverrides = {},
): Promise<TestApp> {
  const db = await createTestDatabase()
  const config = loadConfig({ LOG_LEVEL: 'debug', ...env })
  const logs: Record<string, unknown>[] = []
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) logs.push(JSON.parse(line))
      done()
    },
  })
  const logger = createLogger(config.LOG_LEVEL, sink)
  const services = buildServices({ config, db, logger, migrations: loadMigrations(), overrides })
  const app = createApp(services)
  const makeKey = async (scopes: Scope[], collections?: string[]) => {
    const created = await createKey(db.pool, { name: `test ${scopes.join('+')}`, scopes, collections })
    return { id: created.id, key: created.key }
  }
  const admin = await makeKey(['admin', 'generate'])
  return {
    app,
    services,
    db,
    config,
    metrics: services.metrics,
    logs,
    adminKey: admin.key,
    makeKey,
    request: (path, init = {}) => {
      const { key, json, ...rest } = init
      const headers = new Headers(rest.headers)
      if (key) headers.set('authorization', `Bearer ${key}`)
      let body = rest.body
      if (json !== undefined) {
        headers.set('content-type', 'application/json')
        body = JSON.stringify(json)
      }
      return Promise.resolve(app.request(path, { ...rest, headers, body }))
    },
    flush: () => services.flush(),
    close: async () => {
      await services.close()
      await db.close()
    },
  }
}
