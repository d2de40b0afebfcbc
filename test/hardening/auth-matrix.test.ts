import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createKey, revokeKey } from '../../src/auth/manage-keys.js'
import { SCOPE_EXTENSION } from '../../src/http/protected-route.js'
import { createTestApp, type TestApp } from '../support/test-app.js'
import { buildRequest, type Operation, openApiPath, operationsOf } from './openapi-requests.js'

/**
 * The auth matrix of every route, generated from the app's own route table at run time: a route
 * added anywhere is covered without editing this file, and a route without auth fails here.
 */

/** The only operations that may be called without an API key. Adding one here is a security decision. */
const PUBLIC = new Set(['GET /healthz', 'GET /readyz', 'GET /openapi.json'])

/**
 * The web console's page and static files: no data, no key (the page asks for one and calls /v1 with
 * it). Not API operations, so not in the OpenAPI document either.
 */
const CONSOLE_FILES = new Set(['GET /console', 'GET /console/', 'GET /console/assets/*'])

/**
 * Operations any live key may call, whatever its scopes (the generation routes narrow what each key sees
 * and may do: a generate key only its own generations).
 */
const OPEN_TO_EVERY_SCOPE = [
  'GET /v1/me',
  'GET /v1/generations',
  'GET /v1/generations/{id}',
  // A generate key may rate its own generations (approving and correcting need review or admin).
  'PUT /v1/generations/{id}/feedback',
]

const METRICS_TOKEN = 'matrix-metrics-token-4d2f9a'
const ALLOWED = 'matrix-allowed'
const OTHER = 'matrix-other'

let t: TestApp
let operations: Operation[]
const keys: Record<'admin' | 'generate' | 'review' | 'revoked' | 'restricted' | 'otherOnly', string> = {
  admin: '',
  generate: '',
  review: '',
  revoked: '',
  restricted: '',
  otherOnly: '',
}
/** Every secret this file sends; none may appear in any log line. */
const secrets: string[] = [METRICS_TOKEN]

beforeAll(async () => {
  // Rate limits off: this file is about who may call what, not how often.
  t = await createTestApp({
    RATE_LIMIT_RPM: '0',
    RATE_LIMIT_TPM: '0',
    // The model id the generated requests name (a task naming an unregistered model is a 400).
    MODELS_JSON: JSON.stringify({ models: { aaaaaaaaaaaa: {} } }),
  })
  const make = async (scopes: ('admin' | 'generate' | 'review')[], collections?: string[]) => {
    const created = await createKey(t.db.pool, { name: 'matrix', scopes, collections })
    secrets.push(created.key)
    return created
  }
  keys.admin = (await make(['admin'])).key
  keys.generate = (await make(['generate'])).key
  keys.review = (await make(['review'])).key
  const revoked = await make(['admin', 'generate'])
  await revokeKey(t.db.pool, revoked.id)
  keys.revoked = revoked.key
  keys.restricted = (await make(['admin', 'generate'], [ALLOWED])).key
  keys.otherOnly = (await make(['admin', 'generate'], [OTHER])).key
  secrets.push(t.adminKey)
  await ensureCollection(ALLOWED)
  await ensureCollection(OTHER)
  operations = operationsOf(t.app)
})
afterAll(async () => t.close())

async function ensureCollection(name: string): Promise<void> {
  await t.db.pool.query(
    `INSERT INTO collections (name, embedding_model, embedding_dimensions) VALUES ($1, 'text-embedding-3-small', 8)
     ON CONFLICT (name) DO NOTHING`,
    [name],
  )
}

const label = (o: Operation) => `${o.method.toUpperCase()} ${o.path}`
const scoped = () => operations.filter((o) => o.scope !== undefined)

async function send(o: Operation, authorization: string | undefined, collection = OTHER) {
  const built = buildRequest(o, { collection, authorization })
  const res = await t.app.request(built.url, built.init)
  return { res, built, status: res.status, body: await res.text() }
}

function expectProblem(result: { status: number; body: string }, status: number, code: string, o: Operation) {
  const where = `${label(o)} answered ${result.status}: ${result.body.slice(0, 300)}`
  expect(result.status, where).toBe(status)
  expect(JSON.parse(result.body).code, where).toBe(code)
}

describe('the route table', () => {
  it('documents every route the router serves, so none escapes this matrix', () => {
    const served = t.app.routes
      .filter((r) => r.method !== 'ALL')
      .map((r) => `${r.method} ${openApiPath(r.path)}`)
    const documented = new Set(operations.map(label))
    const undocumented = [...new Set(served)].filter(
      (r) => !documented.has(r) && !PUBLIC.has(r) && !CONSOLE_FILES.has(r),
    )
    expect(undocumented).toEqual([])
  })

  it('gives every operation but the public ones an API key scope, a bearer requirement and 401/403', () => {
    expect(scoped().length).toBeGreaterThanOrEqual(4)
    for (const o of operations) {
      if (PUBLIC.has(label(o))) {
        expect(o.path.startsWith('/v1'), `${label(o)} is public but under /v1`).toBe(false)
        continue
      }
      expect(o.scopes.length, `${label(o)} has no ${SCOPE_EXTENSION}`).toBeGreaterThan(0)
      for (const scope of o.scopes) expect(['admin', 'generate', 'review'], label(o)).toContain(scope)
      expect(o.security, label(o)).toEqual([{ bearerAuth: [] }])
      // 503: the key is checked against the database, which may be unavailable (README "Errors").
      expect(o.responseCodes, label(o)).toEqual(expect.arrayContaining(['401', '403', '429', '503']))
    }
  })

  it('keeps the public operations public', async () => {
    for (const o of operations.filter((op) => PUBLIC.has(label(op)))) {
      const { status } = await send(o, undefined)
      expect([200, 503], label(o)).toContain(status)
    }
  })
})

describe('every protected operation', () => {
  it('answers 401 without a key, with a malformed one and with an unknown one', async () => {
    const unknown = `onb_zzzzzzzzzzzz_${randomBytes(32).toString('base64url')}`
    secrets.push(unknown)
    for (const o of scoped()) {
      expectProblem(await send(o, undefined), 401, 'unauthorized', o)
      expectProblem(await send(o, 'Bearer not-a-key'), 401, 'unauthorized', o)
      expectProblem(await send(o, `Bearer ${unknown}`), 401, 'unauthorized', o)
    }
  })

  it('answers 401 to a revoked key, whatever its scopes', async () => {
    for (const o of scoped()) expectProblem(await send(o, `Bearer ${keys.revoked}`), 401, 'unauthorized', o)
  })

  it('answers 403 to a live key without the operation’s scope', async () => {
    const openToEveryScope: string[] = []
    for (const o of scoped()) {
      // Every single-scope key whose scope the operation does not list must be refused.
      const wrong = (['admin', 'generate', 'review'] as const).filter((scope) => !o.scopes.includes(scope))
      if (wrong.length === 0) openToEveryScope.push(label(o))
      for (const scope of wrong) expectProblem(await send(o, `Bearer ${keys[scope]}`), 403, 'forbidden', o)
    }
    // Any live key may call these, so no key lacks their scope. Adding one here is a security decision.
    expect(openToEveryScope).toEqual(OPEN_TO_EVERY_SCOPE)
  })

  it('lets a key with the scope past authentication without an unhandled error', async () => {
    for (const o of scoped()) {
      const right = o.scopes.includes('admin') ? keys.admin : keys.generate
      const result = await send(o, `Bearer ${right}`, ALLOWED)
      const where = `${label(o)} answered ${result.status}: ${result.body.slice(0, 300)}`
      expect([401, 403, 500], where).not.toContain(result.status)
      await ensureCollection(ALLOWED)
    }
  })

  it('answers 403 when the key’s collection allowlist excludes the collection it names', async () => {
    const checked: string[] = []
    for (const o of scoped()) {
      const result = await send(o, `Bearer ${keys.restricted}`, OTHER)
      if (!result.built.collectionIn) continue
      checked.push(label(o))
      expectProblem(result, 403, 'forbidden', o)
      // The same request from a key allowed that collection is not refused for it (so the 403 above was
      // about the allowlist); deletes are skipped so the collection survives for the next operation.
      if (o.method !== 'delete') {
        const allowed = await send(o, `Bearer ${keys.otherOnly}`, OTHER)
        expect(allowed.status, `${label(o)} refused a key allowed ${OTHER}: ${allowed.body}`).not.toBe(403)
        await ensureCollection(OTHER)
      }
    }
    // At least key creation names collections; a detector that found none would test nothing.
    expect(checked).toContain('POST /v1/keys')
  })
})

describe('a collection-limited admin key', () => {
  it('cannot create a key that reaches beyond its own collections', async () => {
    const create = (collections?: string[]) =>
      t.request('/v1/keys', {
        method: 'POST',
        key: keys.restricted,
        json: { name: 'minted', scopes: ['generate'], ...(collections ? { collections } : {}) },
      })
    expect((await create()).status).toBe(403)
    expect((await create([ALLOWED, OTHER])).status).toBe(403)
    expect((await create([ALLOWED])).status).toBe(201)
  })
})

/**
 * Admin operations that name no collection in their path or body reach resources that belong to
 * collections through an id: how to aim each family at resources outside a limited key's allowlist.
 * A new admin route with path parameters must be added here, and must answer 404 to a limited key for
 * another collection's resource (a security decision, like PUBLIC above).
 */
const OUTSIDE_TARGETS: Record<string, (ids: OutsideIds) => Record<string, string>[]> = {
  '/v1/tasks/': (ids) => ids.tasks.map((name) => ({ name, version: '1' })),
  '/v1/keys/': (ids) => ids.keys.map((id) => ({ id })),
  '/v1/ingest-jobs/': (ids) => [{ id: ids.job }],
  // A limited key reads only the datasets it built; any other id is 404.
  '/v1/datasets/': () => [{ id: '00000000-0000-4000-8000-0000000000aa' }],
  // A limited key sees the sets of tasks within its collections only (test/learn/eval-sets.test.ts).
  '/v1/eval-sets/': () => [{ id: '00000000-0000-4000-8000-0000000000ab' }],
  '/v1/eval-runs/': () => [{ id: '00000000-0000-4000-8000-0000000000ac' }],
  // A limited key sees only the fine-tunes it started (like datasets).
  '/v1/fine-tunes/': () => [{ id: '00000000-0000-4000-8000-0000000000ad' }],
}

/**
 * Families of admin operations on resources no collection owns, shared by every team: a limited key may
 * read them (they hold nothing of any collection) but not change them (403), since a change reaches every
 * collection's tasks (a model's endpoint receives their prompts). A security decision, like PUBLIC above.
 */
const SHARED_FAMILIES = ['/v1/model-registry']
/** The registry's writes at /v1/models too (its reads there are the OpenAI SDK's list of tasks). */
const SHARED_OPERATIONS = ['POST /v1/models', 'PATCH /v1/models/{id}']

interface OutsideIds {
  /** Tasks bound to another collection, to none, or to ours in one version only. */
  tasks: string[]
  /** An unlimited admin key and a key limited to another collection. */
  keys: string[]
  job: string
}

describe('a collection-limited admin key, at every admin operation that names no collection', () => {
  const ids: OutsideIds = { tasks: [], keys: [], job: '' }
  const taskDefinition = (collection?: string) => ({
    systemPrompt: 'OUTSIDE-PROMPT-7f3a for {{brand}}',
    retrieval: collection ? { collection } : {},
    route: { strategy: 'foundation', foundationModel: 'gpt-4o-mini' },
  })
  const snapshot = async () =>
    JSON.stringify([
      (await t.db.pool.query('SELECT id, revoked_at FROM api_keys ORDER BY id')).rows,
      (await t.db.pool.query('SELECT name, active_version FROM tasks ORDER BY name')).rows,
      (await t.db.pool.query('SELECT task_id, version FROM task_versions ORDER BY 1, 2')).rows,
    ])

  beforeAll(async () => {
    await ensureCollection(OTHER)
    const put = async (name: string, collection?: string) => {
      const res = await t.request(`/v1/tasks/${name}`, {
        method: 'PUT',
        key: t.adminKey,
        json: taskDefinition(collection),
      })
      expect(res.status).toBe(201)
    }
    await put('outside-other', OTHER)
    await put('outside-anywhere')
    await put('outside-mixed', OTHER)
    await put('outside-mixed', ALLOWED)
    ids.tasks = ['outside-other', 'outside-anywhere', 'outside-mixed']
    ids.keys = [
      (await createKey(t.db.pool, { name: 'outside-admin', scopes: ['admin'] })).id,
      (await createKey(t.db.pool, { name: 'outside-limited', scopes: ['admin'], collections: [OTHER] })).id,
      (
        await createKey(t.db.pool, {
          name: 'outside-wider',
          scopes: ['admin'],
          collections: [ALLOWED, OTHER],
        })
      ).id,
    ]
    const queued = await t.request(`/v1/collections/${OTHER}/ingest`, {
      method: 'POST',
      key: t.adminKey,
      json: { records: [{ sku: 'x1', name: 'Outside' }] },
    })
    expect(queued.status).toBe(202)
    ids.job = ((await queued.json()) as { jobId: string }).jobId
  })

  it('finds nothing outside its allowlist (404) and lists nothing of it, and changes nothing', async () => {
    const before = await snapshot()
    const markers = [...ids.tasks, ...ids.keys, ids.job, OTHER, 'OUTSIDE-PROMPT-7f3a']
    const checked: string[] = []
    for (const o of scoped().filter((op) => op.scopes.includes('admin') && !op.scopes.includes('generate'))) {
      const built = buildRequest(o, { collection: ALLOWED, authorization: `Bearer ${keys.restricted}` })
      if (built.collectionIn) continue // the 403 test above covers it
      const params = [...o.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!)
      if (typeof built.init.body === 'string' && o.bodies['application/json']?.properties?.retrieval) {
        // A task definition: aimed at our own collection, so only the task's own reach can refuse it.
        built.init.body = JSON.stringify({
          ...JSON.parse(built.init.body),
          retrieval: { collection: ALLOWED },
        })
      }
      if (
        SHARED_FAMILIES.some((prefix) => o.path.startsWith(prefix)) ||
        SHARED_OPERATIONS.includes(label(o))
      ) {
        const res = await t.app.request(built.url, built.init)
        const body = await res.text()
        if (o.method === 'get') {
          expect([200, 404], `${label(o)} answered ${res.status}`).toContain(res.status)
          for (const marker of markers) expect(body, `${label(o)} showed ${marker}`).not.toContain(marker)
        } else expectProblem({ status: res.status, body }, 403, 'forbidden', o)
        checked.push(label(o))
        continue
      }
      if (params.length === 0) {
        const res = await t.app.request(built.url, built.init)
        const body = await res.text()
        if (res.status === 403 || res.status === 404) continue
        for (const marker of markers) expect(body, `${label(o)} showed ${marker}`).not.toContain(marker)
        checked.push(label(o))
        continue
      }
      const family = Object.keys(OUTSIDE_TARGETS).find((prefix) => o.path.startsWith(prefix))
      expect(family, `${label(o)}: say in OUTSIDE_TARGETS how a limited key is kept off it`).toBeDefined()
      for (const values of OUTSIDE_TARGETS[family!]!(ids)) {
        const url = o.path.replace(/\{([^}]+)\}/g, (_, name: string) =>
          encodeURIComponent(values[name] ?? '1'),
        )
        const res = await t.app.request(url, built.init)
        expectProblem({ status: res.status, body: await res.text() }, 404, 'not_found', o)
      }
      checked.push(label(o))
    }
    expect(checked).toEqual(
      expect.arrayContaining([
        'GET /v1/keys',
        'DELETE /v1/keys/{id}',
        'GET /v1/tasks',
        'PUT /v1/tasks/{name}',
        'POST /v1/tasks/{name}/rollback',
        'GET /v1/ingest-jobs/{id}',
        'POST /v1/model-registry',
        'PATCH /v1/model-registry/{id}',
        'POST /v1/models',
        'PATCH /v1/models/{id}',
      ]),
    )
    expect(await snapshot()).toBe(before)
  })
})

describe('logs', () => {
  it('never contain a key or token that was sent, valid or not', async () => {
    for (const o of scoped().slice(0, 5)) {
      await send(o, `Bearer ${keys.admin}`)
      await send(o, `Bearer ${keys.revoked}`)
    }
    await t.request('/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
    const logged = JSON.stringify(t.logs)
    expect(t.logs.length).toBeGreaterThan(20)
    for (const secret of secrets) {
      expect(logged).not.toContain(secret)
      // The secret part alone (after onb_<id>_) must not leak either.
      expect(logged).not.toContain(secret.slice(-43))
    }
    expect(logged).not.toMatch(/Bearer\s+\S/)
  })
})
