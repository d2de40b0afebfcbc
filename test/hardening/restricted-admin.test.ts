import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestApp, json, type TestApp } from '../support/test-app.js'

// An admin key limited to collection `team-a` manages what lies inside its allowlist and nothing else
// (issue 11, item 5). The route-by-route sweep is in auth-matrix.test.ts; this file checks what it
// still may do, and that what it may not do leaves no trace.

let t: TestApp
let limited: { id: string; key: string }
beforeAll(async () => {
  t = await createTestApp({ RATE_LIMIT_RPM: '0', RATE_LIMIT_TPM: '0' })
  for (const name of ['team-a', 'team-b']) {
    const res = await t.request('/v1/collections', {
      method: 'POST',
      key: t.adminKey,
      json: { name, embeddingDimensions: 8 },
    })
    expect(res.status).toBe(201)
  }
  limited = await t.makeKey(['admin'], ['team-a'])
})
afterAll(async () => t?.close())

const definition = (collection: string | undefined, prompt = 'Prompt of {{brand}}') => ({
  systemPrompt: prompt,
  retrieval: collection ? { collection } : {},
  route: { strategy: 'foundation', foundationModel: 'gpt-4o-mini' },
})
const as = (key: string, path: string, init: { method?: string; json?: unknown } = {}) =>
  t.request(path, { ...init, key })

describe('keys', () => {
  it('lists only keys limited to its own collections, never an unlimited or a wider key', async () => {
    const inside = await t.makeKey(['generate'], ['team-a'])
    const other = await t.makeKey(['generate'], ['team-b'])
    const wider = await t.makeKey(['generate'], ['team-a', 'team-b'])
    const unlimited = await t.makeKey(['generate'])
    const ids = ((await json(await as(limited.key, '/v1/keys'))).data as { id: string }[]).map((k) => k.id)
    expect(ids).toEqual(expect.arrayContaining([limited.id, inside.id]))
    for (const hidden of [other, wider, unlimited]) expect(ids).not.toContain(hidden.id)
    // The unlimited admin still sees them all.
    const all = ((await json(await as(t.adminKey, '/v1/keys'))).data as { id: string }[]).map((k) => k.id)
    expect(all).toEqual(expect.arrayContaining([limited.id, inside.id, other.id, wider.id, unlimited.id]))
  })

  it('cannot revoke the unlimited admin key or a key reaching elsewhere: 404, and the key keeps working', async () => {
    const admin = (await json(await as(t.adminKey, '/v1/me'))).id as string
    const wider = await t.makeKey(['generate'], ['team-a', 'team-b'])
    for (const id of [admin, wider.id]) {
      const res = await as(limited.key, `/v1/keys/${id}`, { method: 'DELETE' })
      expect(res.status).toBe(404)
      expect(await json(res)).toMatchObject({ code: 'not_found', detail: `No API key with id ${id}.` })
    }
    expect((await as(t.adminKey, '/v1/me')).status).toBe(200)
    expect((await as(wider.key, '/v1/me')).status).toBe(200)
  })

  it('revokes and creates keys inside its allowlist', async () => {
    const inside = await t.makeKey(['generate'], ['team-a'])
    expect((await as(limited.key, `/v1/keys/${inside.id}`, { method: 'DELETE' })).status).toBe(204)
    expect((await as(inside.key, '/v1/me')).status).toBe(401)
    const created = await as(limited.key, '/v1/keys', {
      method: 'POST',
      json: { name: 'a-app', scopes: ['generate'], collections: ['team-a'] },
    })
    expect(created.status).toBe(201)
  })
})

describe('tasks', () => {
  beforeAll(async () => {
    for (const [name, collection] of [
      ['a-copy', 'team-a'],
      ['b-copy', 'team-b'],
      ['any-copy', undefined],
    ] as const) {
      expect(
        (await as(t.adminKey, `/v1/tasks/${name}`, { method: 'PUT', json: definition(collection) })).status,
      ).toBe(201)
    }
  })

  it('lists and reads only tasks bound to its collections', async () => {
    const names = ((await json(await as(limited.key, '/v1/tasks'))).data as { task: string }[]).map(
      (x) => x.task,
    )
    expect(names).toEqual(['a-copy'])
    for (const path of ['/v1/tasks/a-copy', '/v1/tasks/a-copy/versions', '/v1/tasks/a-copy/versions/1']) {
      expect((await as(limited.key, path)).status).toBe(200)
    }
    for (const name of ['b-copy', 'any-copy', 'no-such-task']) {
      for (const path of [
        `/v1/tasks/${name}`,
        `/v1/tasks/${name}/versions`,
        `/v1/tasks/${name}/versions/1`,
      ]) {
        const res = await as(limited.key, path)
        expect(res.status, path).toBe(404)
        expect(await res.text()).not.toContain('Prompt of')
      }
    }
  })

  it('cannot add a version to, activate or roll back a task outside, even with a definition naming its own collection', async () => {
    const before = (await t.db.pool.query('SELECT count(*)::int AS n FROM task_versions')).rows[0].n
    for (const name of ['b-copy', 'any-copy']) {
      const put = await as(limited.key, `/v1/tasks/${name}`, {
        method: 'PUT',
        json: definition('team-a', 'Hijack'),
      })
      expect(put.status).toBe(404)
      expect(
        (await as(limited.key, `/v1/tasks/${name}/versions/1/activate`, { method: 'POST' })).status,
      ).toBe(404)
      expect((await as(limited.key, `/v1/tasks/${name}/rollback`, { method: 'POST' })).status).toBe(404)
    }
    expect((await t.db.pool.query('SELECT count(*)::int AS n FROM task_versions')).rows[0].n).toBe(before)
  })

  it('must name one of its collections in a new version: none (any collection) or another is 403', async () => {
    const none = await as(limited.key, '/v1/tasks/a-copy', {
      method: 'PUT',
      json: definition(undefined, 'v2'),
    })
    expect(none.status).toBe(403)
    expect((await json(none)).detail).toContain('retrieval.collection')
    const other = await as(limited.key, '/v1/tasks/a-fresh', { method: 'PUT', json: definition('team-b') })
    expect(other.status).toBe(403)
    expect((await as(t.adminKey, '/v1/tasks/a-fresh')).status).toBe(404)
  })

  it('manages the versions of its own tasks', async () => {
    expect(
      (
        await as(limited.key, '/v1/tasks/a-copy', {
          method: 'PUT',
          json: definition('team-a', 'v2 {{brand}}'),
        })
      ).status,
    ).toBe(201)
    const rolled = await as(limited.key, '/v1/tasks/a-copy/rollback', { method: 'POST' })
    expect(rolled.status).toBe(200)
    expect((await json(rolled)).version).toBe(1)
    expect((await as(limited.key, '/v1/tasks/a-copy/versions/2/activate', { method: 'POST' })).status).toBe(
      200,
    )
    expect(
      (await as(limited.key, '/v1/tasks/a-new', { method: 'PUT', json: definition('team-a') })).status,
    ).toBe(201)
  })

  it('loses a task once an unlimited admin adds a version bound elsewhere (or to no collection)', async () => {
    expect(
      (await as(t.adminKey, '/v1/tasks/a-new', { method: 'PUT', json: definition(undefined, 'open') }))
        .status,
    ).toBe(201)
    expect((await as(limited.key, '/v1/tasks/a-new')).status).toBe(404)
    // Rolling back does not bring it back: the version bound to no collection can be activated again.
    expect((await as(t.adminKey, '/v1/tasks/a-new/rollback', { method: 'POST' })).status).toBe(200)
    expect((await as(limited.key, '/v1/tasks/a-new')).status).toBe(404)
  })
})

describe('ingest jobs and metrics', () => {
  it("answers 404 for another collection's job and 200 for its own", async () => {
    const queue = async (collection: string) => {
      const res = await as(t.adminKey, `/v1/collections/${collection}/ingest`, {
        method: 'POST',
        json: { records: [{ sku: 's1', name: 'Stove' }] },
      })
      expect(res.status).toBe(202)
      return (await json(res)).jobId as string
    }
    const own = await queue('team-a')
    const other = await queue('team-b')
    expect((await as(limited.key, `/v1/ingest-jobs/${own}`)).status).toBe(200)
    const res = await as(limited.key, `/v1/ingest-jobs/${other}`)
    expect(res.status).toBe(404)
    expect(await json(res)).toMatchObject({ code: 'not_found', detail: `No ingest job with id ${other}.` })
  })

  it('may not read /metrics, which covers every collection and task', async () => {
    expect((await as(limited.key, '/metrics')).status).toBe(403)
    expect((await as(t.adminKey, '/metrics')).status).toBe(200)
  })
})
