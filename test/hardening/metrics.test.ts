import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../src/app.js'
import { createKey } from '../../src/auth/manage-keys.js'
import { loadConfig } from '../../src/config.js'
import { loadMigrations } from '../../src/db/migrate.js'
import type { Database } from '../../src/db/pool.js'
import { createLogger } from '../../src/logger.js'
import {
  createMetrics,
  type Metrics,
  observeEmbedding,
  observeGeneration,
  observeRetrieval,
} from '../../src/observability/metrics.js'
import { buildServices } from '../../src/services.js'
import { createTestApp, type TestApp } from '../support/test-app.js'
import { createTestDatabase } from '../support/test-db.js'

const METRICS_TOKEN = 'scrape-token-0123456789abcdef'

let db: Database
let metrics: Metrics
let adminKey: string
let generateKey: string
let app: ReturnType<typeof createApp>

function buildApp(env: Record<string, string>, appMetrics?: Metrics) {
  return createApp(
    buildServices({
      config: loadConfig({ LOG_LEVEL: 'silent', ...env }),
      db,
      logger: createLogger('silent'),
      migrations: loadMigrations(),
      overrides: appMetrics ? { metrics: appMetrics } : {},
    }),
  )
}

const get = (target: ReturnType<typeof createApp>, path: string, bearer?: string, method = 'GET') =>
  target.request(path, { method, headers: bearer ? { authorization: `Bearer ${bearer}` } : {} })

/**
 * Routes (by path) or components (by name) in an app's OpenAPI registry: what /openapi.json is rendered
 * from, read directly so these tests do not depend on every other route's schema rendering.
 */
function registered(target: ReturnType<typeof createApp>, type: 'route' | 'component', key: string): any[] {
  return (target.openAPIRegistry.definitions as any[])
    .filter((d) => d.type === type && (type === 'route' ? d.route.path === key : d.name === key))
    .map((d) => (type === 'route' ? d.route : d))
}

/** The value of one sample line, e.g. `onbrand_ingest_jobs{status="queued"}`, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

beforeAll(async () => {
  db = await createTestDatabase()
  metrics = createMetrics({ jobQueue: db.pool })
  app = buildApp({}, metrics)
  adminKey = (await createKey(db.pool, { name: 'admin', scopes: ['admin'] })).key
  generateKey = (await createKey(db.pool, { name: 'gen', scopes: ['generate'] })).key
})
afterAll(async () => db.close())

describe('/metrics without a METRICS_TOKEN', () => {
  it('needs an admin API key', async () => {
    expect((await get(app, '/metrics')).status).toBe(401)
    expect((await get(app, '/metrics', generateKey)).status).toBe(403)
    const res = await get(app, '/metrics', adminKey)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/plain')
    expect(await res.text()).toContain('# TYPE onbrand_http_request_duration_seconds histogram')
  })

  it('labels HTTP latency by route pattern and status, never by raw path', async () => {
    await get(app, '/v1/keys/q7w8e9r0t1y2', adminKey, 'DELETE')
    await get(app, '/v1/no-such-route-4f1c9e')
    const text = await (await get(app, '/metrics', adminKey)).text()
    expect(
      sample(
        text,
        'onbrand_http_request_duration_seconds_count{method="DELETE",route="/v1/keys/:id",status="404"}',
      ),
    ).toBe(1)
    expect(
      sample(
        text,
        'onbrand_http_request_duration_seconds_count{method="GET",route="unmatched",status="404"}',
      ),
    ).toBeGreaterThanOrEqual(1)
    expect(text).not.toContain('q7w8e9r0t1y2')
    expect(text).not.toContain('no-such-route')
  })

  it('reports generations, fallbacks, retrievals and embeddings recorded by the app’s code', async () => {
    const labels = 'task="product-blurb",model="ft:gpt-4o-mini:acme",strategy="fine_tuned"'
    observeGeneration(metrics, {
      task: 'product-blurb',
      model: 'ft:gpt-4o-mini:acme',
      strategy: 'fine_tuned',
      latencyMs: 420,
      promptTokens: 300,
      completionTokens: 40,
      fellBack: false,
    })
    observeGeneration(metrics, {
      task: 'product-blurb',
      model: 'gpt-4o-mini',
      strategy: 'fine_tuned',
      latencyMs: 900,
      promptTokens: 310,
      completionTokens: 0,
      fellBack: true,
    })
    observeRetrieval(metrics, { latencyMs: 12, mode: 'hybrid' })
    observeEmbedding(metrics, { embedded: 7, reused: 30 })
    observeEmbedding(metrics, { embedded: 3, reused: 0 })
    observeGeneration(undefined, { task: 'x', model: 'y', strategy: 'z', latencyMs: 1, fellBack: true })

    const text = await (await get(app, '/metrics', adminKey)).text()
    expect(sample(text, `onbrand_generation_duration_seconds_count{${labels},status="succeeded"}`)).toBe(1)
    expect(sample(text, `onbrand_generation_duration_seconds_sum{${labels},status="succeeded"}`)).toBeCloseTo(
      0.42,
    )
    expect(sample(text, `onbrand_generation_tokens_total{${labels},kind="prompt"}`)).toBe(300)
    expect(sample(text, `onbrand_generation_tokens_total{${labels},kind="completion"}`)).toBe(40)
    expect(
      sample(text, 'onbrand_generation_fallbacks_total{task="product-blurb",strategy="fine_tuned"}'),
    ).toBe(1)
    expect(sample(text, 'onbrand_retrieval_duration_seconds_count{mode="hybrid"}')).toBe(1)
    expect(sample(text, 'onbrand_chunks_embedded_total')).toBe(10)
    expect(sample(text, 'onbrand_chunks_reused_total')).toBe(30)
  })

  it('computes job queue depth and the oldest queued job’s age from ingest_jobs at scrape time', async () => {
    const before = await (await get(app, '/metrics', adminKey)).text()
    expect(sample(before, 'onbrand_ingest_jobs{status="queued"}')).toBe(0)
    expect(sample(before, 'onbrand_ingest_oldest_queued_job_age_seconds')).toBe(0)

    const { rows } = await db.pool.query(
      `INSERT INTO collections (name, embedding_model, embedding_dimensions) VALUES ('queue-test', 'm', 8)
       RETURNING id`,
    )
    await db.pool.query(
      `INSERT INTO ingest_jobs (collection_id, status, created_at) VALUES
         ($1, 'queued', now() - interval '90 seconds'), ($1, 'queued', now()),
         ($1, 'running', now() - interval '1 hour'), ($1, 'succeeded', now() - interval '2 hours')`,
      [rows[0].id],
    )
    const after = await (await get(app, '/metrics', adminKey)).text()
    expect(sample(after, 'onbrand_ingest_jobs{status="queued"}')).toBe(2)
    expect(sample(after, 'onbrand_ingest_jobs{status="running"}')).toBe(1)
    const age = sample(after, 'onbrand_ingest_oldest_queued_job_age_seconds')
    expect(age).toBeGreaterThanOrEqual(90)
    expect(age).toBeLessThan(600)
  })

  it('counts requests refused by a rate limit', async () => {
    const limited = await createKey(db.pool, { name: 'tight', scopes: ['admin'], rateLimitRpm: 1 })
    await get(app, '/v1/keys', limited.key)
    expect((await get(app, '/v1/keys', limited.key)).status).toBe(429)
    const text = await (await get(app, '/metrics', adminKey)).text()
    expect(sample(text, 'onbrand_rate_limited_total{limit="rpm"}')).toBe(1)
  })

  it('keeps each app’s metrics in its own registry', async () => {
    const fresh = buildApp({ METRICS_TOKEN })
    await get(app, '/healthz')
    const text = await (await get(fresh, '/metrics', METRICS_TOKEN)).text()
    expect(text).toContain('# TYPE onbrand_http_request_duration_seconds histogram')
    expect(text).not.toContain('route="/healthz"')
    expect(text).not.toContain('product-blurb')
  })
})

describe('/metrics with METRICS_TOKEN', () => {
  let tokenApp: ReturnType<typeof createApp>
  beforeAll(() => {
    tokenApp = buildApp({ METRICS_TOKEN })
  })

  it('answers only the token: not without it, not a wrong one, not an API key', async () => {
    expect((await get(tokenApp, '/metrics')).status).toBe(401)
    expect((await get(tokenApp, '/metrics', `${METRICS_TOKEN}x`)).status).toBe(401)
    expect((await get(tokenApp, '/metrics', adminKey)).status).toBe(401)
    const ok = await get(tokenApp, '/metrics', METRICS_TOKEN)
    expect(ok.status).toBe(200)
    expect(await ok.text()).toContain('onbrand_ingest_jobs')
  })

  it('documents the route with the metrics token scheme instead of an API key scope', () => {
    const [route] = registered(tokenApp, 'route', '/metrics')
    expect(route.security).toEqual([{ metricsToken: [] }])
    expect(route['x-onbrand-scope']).toBeUndefined()
    const [scheme] = registered(tokenApp, 'component', 'metricsToken')
    expect(scheme.component).toMatchObject({ type: 'http', scheme: 'bearer' })
  })

  it('refuses a token shorter than 16 characters at start', () => {
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN/)
  })
})

describe('METRICS_ENABLED=false', () => {
  it('removes the route', async () => {
    const off = buildApp({ METRICS_ENABLED: 'false' })
    expect((await get(off, '/metrics', adminKey)).status).toBe(404)
    expect(registered(off, 'route', '/metrics')).toEqual([])
  })
})

describe('logs', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await createTestApp()
  })
  afterAll(async () => t.close())

  it('carry the request id and the key id, never the key', async () => {
    const res = await t.request('/v1/keys', { key: t.adminKey, headers: { 'x-request-id': 'trace-me-1' } })
    expect(res.status).toBe(200)
    const access = t.logs.find((line) => line.requestId === 'trace-me-1' && line.msg === 'request')
    expect(access).toMatchObject({ status: 200, keyId: expect.stringMatching(/^[a-z0-9]{12}$/) })
    expect(JSON.stringify(t.logs)).not.toContain(t.adminKey)
  })
})
