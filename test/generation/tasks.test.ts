import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestApp, json, type TestApp } from '../support/test-app.js'

let t: TestApp
const put = (name: string, body: unknown, query = '') =>
  t.request(`/v1/tasks/${name}${query}`, { method: 'PUT', key: t.adminKey, json: body })
const definition = (prompt: string) => ({
  description: 'Subject lines',
  systemPrompt: prompt,
  route: { strategy: 'foundation', foundationModel: 'gpt-4o-mini' },
})

beforeAll(async () => {
  t = await createTestApp()
})
afterAll(async () => t?.close())

describe('tasks', () => {
  it('creates version 1, active, with the variables its prompt declares', async () => {
    const res = await put('subject-lines', definition('Write for {{brand}} in {{tone}}. {{context}}'))
    expect(res.status).toBe(201)
    const body = await json(res)
    expect(body).toMatchObject({
      task: 'subject-lines',
      version: 1,
      active: true,
      variables: ['brand', 'tone'],
    })
    expect(body.definition.output).toEqual({ type: 'text' })
  })

  it('does not create a version for an unchanged definition', async () => {
    const res = await put('subject-lines', definition('Write for {{brand}} in {{tone}}. {{context}}'))
    expect(res.status).toBe(200)
    expect((await json(res)).version).toBe(1)
  })

  it('numbers new versions and activates them unless told not to', async () => {
    expect((await json(await put('subject-lines', definition('v2 {{brand}}')))).version).toBe(2)
    const staged = await json(await put('subject-lines', definition('v3 {{brand}}'), '?activate=false'))
    expect(staged).toMatchObject({ version: 3, active: false })
    const active = await json(await t.request('/v1/tasks/subject-lines', { key: t.adminKey }))
    expect(active.version).toBe(2)
    const versions = await json(await t.request('/v1/tasks/subject-lines/versions', { key: t.adminKey }))
    expect(versions.data.map((v: { version: number; active: boolean }) => [v.version, v.active])).toEqual([
      [1, false],
      [2, true],
      [3, false],
    ])
  })

  it('activates a chosen version and rolls back to the previous one', async () => {
    const activated = await t.request('/v1/tasks/subject-lines/versions/3/activate', {
      method: 'POST',
      key: t.adminKey,
    })
    expect((await json(activated)).version).toBe(3)
    const rolled = await t.request('/v1/tasks/subject-lines/rollback', { method: 'POST', key: t.adminKey })
    expect(rolled.status).toBe(200)
    expect((await json(rolled)).version).toBe(2)
    const again = await t.request('/v1/tasks/subject-lines/rollback', { method: 'POST', key: t.adminKey })
    expect((await json(again)).version).toBe(1)
    const none = await t.request('/v1/tasks/subject-lines/rollback', { method: 'POST', key: t.adminKey })
    expect(none.status).toBe(409)
  })

  it('answers 404 for an unknown task or version', async () => {
    expect((await t.request('/v1/tasks/nope/versions', { key: t.adminKey })).status).toBe(404)
    expect(
      (await t.request('/v1/tasks/subject-lines/versions/99/activate', { method: 'POST', key: t.adminKey }))
        .status,
    ).toBe(404)
  })

  it('rejects an unusable JSON Schema, a route without its fine-tuned model, and unknown fields', async () => {
    const badSchema = await put('j', {
      ...definition('x'),
      output: { type: 'json', schema: { type: 'objectx' } },
    })
    expect(badSchema.status).toBe(400)
    expect((await json(badSchema)).errors[0].path).toBe('output.schema')
    const badRoute = await put('j', {
      ...definition('x'),
      route: { strategy: 'split', foundationModel: 'a', share: 0.5 },
    })
    expect(badRoute.status).toBe(400)
    expect((await put('j', { ...definition('x'), colour: 'red' })).status).toBe(400)
  })

  it('is admin-only', async () => {
    const key = await t.makeKey(['generate'])
    const res = await t.request('/v1/tasks/x', { method: 'PUT', key: key.key, json: definition('x') })
    expect(res.status).toBe(403)
  })

  it('refuses a task whose collection lies outside a restricted admin key’s allowlist', async () => {
    const restricted = await t.makeKey(['admin'], ['brand-au'])
    const pointed = (collection: string) => ({
      ...definition('Write for {{brand}}.\n\n{{context}}'),
      retrieval: { collection, k: 3 },
    })
    const outside = await t.request('/v1/tasks/limited', {
      method: 'PUT',
      key: restricted.key,
      json: pointed('brand-us'),
    })
    expect(outside.status).toBe(403)
    expect((await json(outside)).code).toBe('forbidden')
    expect((await t.request('/v1/tasks/limited', { key: t.adminKey })).status).toBe(404)
    const inside = await t.request('/v1/tasks/limited', {
      method: 'PUT',
      key: restricted.key,
      json: pointed('brand-au'),
    })
    expect(inside.status).toBe(201)
  })
})

describe('examples/tasks', () => {
  it('loads the four example tasks through putTask, and a second load changes nothing', async () => {
    const { loadTaskDirectory } = await import('../../src/tasks/load-tasks.js')
    const first = await loadTaskDirectory(t.db.pool, t.services.models, 'examples/tasks')
    expect(first.map((task) => [task.name, task.created])).toEqual([
      ['ad-copy', true],
      ['campaign-ideation', true],
      ['email-subject-line', true],
      ['product-description', true],
    ])
    const second = await loadTaskDirectory(t.db.pool, t.services.models, 'examples/tasks')
    expect(second.every((task) => !task.created && task.version === 1)).toBe(true)
    const listed = await json(await t.request('/v1/tasks', { key: t.adminKey }))
    const email = listed.data.find((task: { task: string }) => task.task === 'email-subject-line')
    expect(email.definition.output.type).toBe('json')
    expect(email.variables).toEqual(['brand'])
  })
})
