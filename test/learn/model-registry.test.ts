import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { createLogger } from '../../src/logger.js'
import { buildServices } from '../../src/services.js'
import {
  createGenerationFixture,
  type GenerationFixture,
  textTask,
} from '../generation/generation-fixture.js'
import { createTestApp, json, type TestApp } from '../support/test-app.js'

let t: TestApp | undefined
let f: GenerationFixture | undefined
afterEach(async () => {
  await t?.close()
  await f?.close()
  t = undefined
  f = undefined
})

const register = (app: TestApp, body: Record<string, unknown>) =>
  app.request('/v1/model-registry', { method: 'POST', key: app.adminKey, json: body })
const patch = (app: TestApp, id: string, body: Record<string, unknown>) =>
  app.request(`/v1/model-registry/${encodeURIComponent(id)}`, {
    method: 'PATCH',
    key: app.adminKey,
    json: body,
  })

describe('the model registry', () => {
  it('starts with the built-in catalog: dated list prices on the default endpoint', async () => {
    t = await createTestApp()
    const res = await t.request('/v1/model-registry', { key: t.adminKey })
    expect(res.status).toBe(200)
    const mini = (await json(res)).data.find((m: { id: string }) => m.id === 'gpt-4o-mini')
    expect(mini).toMatchObject({
      kind: 'foundation',
      baseURL: null,
      apiKeyEnv: null,
      inputPricePer1M: 0.15,
      outputPricePer1M: 0.6,
      trainingPricePer1M: 3,
      fineTunedInputPricePer1M: 0.3,
      fineTunedOutputPricePer1M: 1.2,
      contextWindow: 128_000,
      priced: true,
      callable: false,
      source: 'catalog',
      pricesAsOf: '2025-08-07',
    })
  })

  it('registers a model trained elsewhere, refuses the same id twice (409) and half a price (400)', async () => {
    t = await createTestApp({ OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' })
    const body = {
      id: 'acme/llama-3.1-8b-copy',
      kind: 'fine_tuned',
      baseModel: 'meta-llama/Llama-3.1-8B-Instruct',
      baseURL: 'http://vllm:8000/v1',
      apiKeyEnv: 'VLLM_API_KEY',
      inputPricePer1M: 0.2,
      outputPricePer1M: 0.2,
      hostingPerHour: 1.7,
      contextWindow: 8192,
      shutdownDate: '2027-06-30',
      providerJobId: 'job-42',
    }
    const created = await register(t, body)
    expect(created.status).toBe(201)
    expect(await json(created)).toMatchObject({ ...body, source: 'api', priced: true, callable: false })
    const again = await register(t, body)
    expect(again.status).toBe(409)
    expect((await json(again)).detail).toContain('acme/llama-3.1-8b-copy')
    const one = await t.request(`/v1/model-registry/${encodeURIComponent(body.id)}`, { key: t.adminKey })
    expect((await json(one)).hostingPerHour).toBe(1.7)

    const half = await register(t, { id: 'half', inputPricePer1M: 1 })
    expect(half.status).toBe(400)
    expect((await json(half)).errors).toEqual([
      { path: 'outputPricePer1M', message: 'set with inputPricePer1M' },
    ])
    const orphan = await register(t, { id: 'orphan', kind: 'fine_tuned' })
    expect((await json(orphan)).errors[0].path).toBe('baseModel')
  })

  it('names an API key only by its environment variable, and never one of Onbrand’s own settings', async () => {
    t = await createTestApp()
    for (const apiKeyEnv of ['DATABASE_URL', 'METRICS_TOKEN', 'not a name']) {
      const res = await register(t, { id: `m-${apiKeyEnv.length}`, apiKeyEnv })
      expect(res.status).toBe(400)
      expect((await json(res)).errors[0].path).toBe('apiKeyEnv')
    }
    const withKey = await register(t, { id: 'keyed', apiKey: 'sk-secret' })
    expect(withKey.status).toBe(400)
    const { rows } = await t.db.pool.query('SELECT * FROM models')
    expect(JSON.stringify(rows)).not.toContain('sk-secret')
  })

  it('changes a model with PATCH, null clearing a price pair, and refuses to leave half a price', async () => {
    t = await createTestApp()
    expect((await patch(t, 'gpt-4o', { shutdownDate: '2027-02-01', hostingPerHour: 0 })).status).toBe(200)
    const cleared = await patch(t, 'gpt-4o', { inputPricePer1M: null, outputPricePer1M: null })
    expect(await json(cleared)).toMatchObject({
      inputPricePer1M: null,
      outputPricePer1M: null,
      priced: false,
      shutdownDate: '2027-02-01',
      hostingPerHour: 0,
    })
    const half = await patch(t, 'gpt-4o', { inputPricePer1M: 3 })
    expect(half.status).toBe(400)
    expect((await json(half)).errors).toEqual([
      { path: 'outputPricePer1M', message: 'set with inputPricePer1M' },
    ])
    expect((await patch(t, 'no-such-model', { contextWindow: 4096 })).status).toBe(404)
    expect((await patch(t, 'gpt-4o', {})).status).toBe(400)
  })

  it('takes the same writes at /v1/models, while GET /v1/models stays the OpenAI SDK’s list of tasks', async () => {
    t = await createTestApp()
    const id = 'ft:gpt-4o-mini:acme::alias'
    const created = await t.request('/v1/models', {
      method: 'POST',
      key: t.adminKey,
      json: { id, kind: 'fine_tuned', baseModel: 'gpt-4o-mini', inputPricePer1M: 0.3, outputPricePer1M: 1.2 },
    })
    expect(created.status).toBe(201)
    const changed = await t.request(`/v1/models/${encodeURIComponent(id)}`, {
      method: 'PATCH',
      key: t.adminKey,
      json: { shutdownDate: '2027-06-30' },
    })
    expect(changed.status).toBe(200)
    const stored = await json(
      await t.request(`/v1/model-registry/${encodeURIComponent(id)}`, { key: t.adminKey }),
    )
    expect(stored).toMatchObject({ id, kind: 'fine_tuned', inputPricePer1M: 0.3, shutdownDate: '2027-06-30' })
    const list = await json(await t.request('/v1/models', { key: t.adminKey }))
    expect(list.object).toBe('list')
    expect(list.data.map((m: { id: string }) => m.id)).not.toContain(id)
    const generateOnly = await t.makeKey(['generate'])
    const refused = await t.request('/v1/models', {
      method: 'POST',
      key: generateOnly.key,
      json: { id: 'x' },
    })
    expect(refused.status).toBe(403)
  })

  it('seeds from MODELS_FILE over the catalog, keeping an inline key in the process only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onbrand-models-'))
    const file = join(dir, 'models.json')
    writeFileSync(
      file,
      JSON.stringify({
        models: {
          'gpt-4o-mini': { inputPricePer1M: 0.1, outputPricePer1M: 0.5, shutdownDate: '2027-03-01' },
          'llama3.1:8b': {
            baseURL: 'http://ollama:11434/v1',
            apiKey: 'sk-inline-secret',
            contextWindow: 8192,
          },
        },
      }),
    )
    t = await createTestApp({ MODELS_FILE: file })
    const data = (await json(await t.request('/v1/model-registry', { key: t.adminKey }))).data
    const byId = new Map(data.map((m: { id: string }) => [m.id, m]))
    expect(byId.get('gpt-4o-mini')).toMatchObject({
      inputPricePer1M: 0.1,
      outputPricePer1M: 0.5,
      trainingPricePer1M: 3,
      shutdownDate: '2027-03-01',
      source: 'file',
    })
    expect(byId.get('llama3.1:8b')).toMatchObject({
      baseURL: 'http://ollama:11434/v1',
      contextWindow: 8192,
      priced: false,
      callable: true,
    })
    expect(t.services.models.resolve('llama3.1:8b')?.apiKey).toBe('sk-inline-secret')
    const { rows } = await t.db.pool.query('SELECT * FROM models')
    expect(JSON.stringify(rows)).not.toContain('sk-inline-secret')
  })
})

describe('tasks and the registry', () => {
  it('registers, at upgrade, every model a stored task names, and the catalog then fills in what it knows', async () => {
    t = await createTestApp()
    const { insertTaskVersion, lockOrCreateTask } = await import('../../src/db/tasks.js')
    const { TaskDefinition } = await import('../../src/tasks/task-definition.js')
    // A database as it was before migration 0011: a task, and no registry rows.
    await t.db.pool.query('DELETE FROM models')
    const task = await lockOrCreateTask(t.db.pool, 'old')
    const route = {
      strategy: 'split',
      foundationModel: 'gpt-4o-mini',
      fineTunedModel: 'ft:gpt-4o-mini:acme:old',
      share: 0.1,
    }
    await insertTaskVersion(t.db.pool, task.id, TaskDefinition.parse({ systemPrompt: 'Old.', route }), null)
    const migration = readFileSync('migrations/0011_model_registry.sql', 'utf8')
    await t.db.pool.query(migration.slice(migration.indexOf('INSERT INTO models')))
    const { rows } = await t.db.pool.query(
      'SELECT id, kind, source, input_price_per_1m FROM models ORDER BY id',
    )
    expect(rows).toEqual([
      { id: 'ft:gpt-4o-mini:acme:old', kind: 'fine_tuned', source: 'task', input_price_per_1m: null },
      { id: 'gpt-4o-mini', kind: 'foundation', source: 'task', input_price_per_1m: null },
    ])
    await t.services.models.ensure([])
    expect(t.services.models.get('gpt-4o-mini')).toMatchObject({ source: 'catalog', inputPricePer1M: 0.15 })
    expect(t.services.models.get('ft:gpt-4o-mini:acme:old')).toMatchObject({
      source: 'task',
      inputPricePer1M: null,
    })
  })

  it('refuses a task naming an unknown model with a 400 naming it, and takes it once registered', async () => {
    t = await createTestApp()
    const task = {
      systemPrompt: 'Write.',
      route: { strategy: 'split', foundationModel: 'gpt-4o-mini', fineTunedModel: 'ft:mystery', share: 0.1 },
    }
    const refused = await t.request('/v1/tasks/copy', { method: 'PUT', key: t.adminKey, json: task })
    expect(refused.status).toBe(400)
    const problem = await json(refused)
    expect(problem.detail).toContain('ft:mystery')
    expect(problem.errors).toEqual([
      { path: 'route.fineTunedModel', message: 'no model ft:mystery in the registry' },
    ])
    expect(
      (await register(t, { id: 'ft:mystery', kind: 'fine_tuned', baseModel: 'gpt-4o-mini' })).status,
    ).toBe(201)
    expect((await t.request('/v1/tasks/copy', { method: 'PUT', key: t.adminKey, json: task })).status).toBe(
      201,
    )
  })
})

describe('prices in cost', () => {
  it('costs a call at the registry’s price, sees a PATCH in another process after the TTL, and never costs an unpriced model as 0', async () => {
    f = await createGenerationFixture({ MODEL_REGISTRY_TTL_MS: '50' })
    const { t: app, stub } = f
    stub.setReply('gpt-4o-mini', 'Plain copy.')
    expect((await f.putTask('copy', textTask())).status).toBe(201)
    const generate = async () =>
      json(await f!.generate({ task: 'copy', input: 'tent', variables: { brand: 'Acme' } }))
    const first = await generate()
    const { promptTokens, completionTokens } = first.usage
    expect(first.usage.costUsd).toBeCloseTo((promptTokens * 0.15 + completionTokens * 0.6) / 1e6, 10)

    // Another process (its own services over the same database) changes the price.
    const other = buildServices({
      config: loadConfig({ OPENAI_BASE_URL: stub.url }),
      db: app.db,
      logger: createLogger('silent'),
    })
    await other.models.ensure([])
    const { updateModel } = await import('../../src/models/manage-models.js')
    await updateModel(app.db.pool, other.models, 'gpt-4o-mini', { inputPricePer1M: 1, outputPricePer1M: 2 })
    await new Promise((resolve) => setTimeout(resolve, 80))
    await generate() // stale copy answers and refreshes behind the request
    const repriced = await generate()
    expect(repriced.usage.costUsd).toBeCloseTo((promptTokens * 1 + completionTokens * 2) / 1e6, 10)

    await updateModel(app.db.pool, other.models, 'gpt-4o-mini', {
      inputPricePer1M: null,
      outputPricePer1M: null,
    })
    await new Promise((resolve) => setTimeout(resolve, 80))
    await generate()
    const unpriced = await generate()
    expect(unpriced.usage.costUsd).toBeNull()
    const rows = await f.generationRows()
    expect(rows.at(-1)!.cost_usd).toBeNull()
    await other.close()
  })

  it('calls a model another process registered without a restart (looked up on a miss)', async () => {
    f = await createGenerationFixture({ MODEL_REGISTRY_TTL_MS: '600000' })
    const { t: app, stub } = f
    expect((await f.putTask('copy', textTask())).status).toBe(201)
    await f.generate({ task: 'copy', input: 'warm the copy', variables: { brand: 'Acme' } })
    const other = buildServices({ config: loadConfig({}), db: app.db, logger: createLogger('silent') })
    const { registerModel } = await import('../../src/models/manage-models.js')
    await registerModel(app.db.pool, other.models, {
      request: {
        id: 'ft:gpt-4o-mini:acme:new',
        kind: 'fine_tuned',
        baseModel: 'gpt-4o-mini',
        inputPricePer1M: 0.3,
        outputPricePer1M: 1.2,
      },
    })
    // The task is changed through this process; its copy of the registry is fresh (TTL 10 min) but lacks the model.
    const route = {
      strategy: 'fine_tuned',
      foundationModel: 'gpt-4o-mini',
      fineTunedModel: 'ft:gpt-4o-mini:acme:new',
    }
    expect((await f.putTask('copy', textTask({ route }))).status).toBe(201)
    stub.setReply('ft:gpt-4o-mini:acme:new', 'Tuned copy.')
    const res = await json(await f.generate({ task: 'copy', input: 'tent', variables: { brand: 'Acme' } }))
    expect(res.route.model).toBe('ft:gpt-4o-mini:acme:new')
    expect(res.usage.costUsd).toBeCloseTo(
      (res.usage.promptTokens * 0.3 + res.usage.completionTokens * 1.2) / 1e6,
      10,
    )
    await other.close()
  })

  it('calls a model with the key held by the environment variable it names', async () => {
    f = await createGenerationFixture({ ACME_KEY: 'sk-from-env' })
    const { t: app, stub } = f
    expect((await register(app, { id: 'acme-chat', apiKeyEnv: 'ACME_KEY', baseURL: stub.url })).status).toBe(
      201,
    )
    const unset = await register(app, { id: 'nokey-chat', apiKeyEnv: 'UNSET_KEY', baseURL: stub.url })
    expect((await json(unset)).callable).toBe(false)
    await f.putTask('copy', textTask({ route: { strategy: 'foundation', foundationModel: 'acme-chat' } }))
    const res = await f.generate({ task: 'copy', input: 'tent', variables: { brand: 'Acme' } })
    expect(res.status).toBe(200)
    const call = stub.calls.filter((c) => c.path === '/v1/chat/completions').at(-1)!
    expect(call.headers.authorization).toBe('Bearer sk-from-env')
    expect((await json(res)).usage.costUsd).toBeNull()
  })
})
