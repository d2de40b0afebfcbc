import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createGenerationFixture,
  type GenerationFixture,
  textTask,
} from '../generation/generation-fixture.js'
import { json } from '../support/test-app.js'

let f: GenerationFixture
beforeAll(async () => {
  f = await createGenerationFixture()
  expect((await f.putTask('copy', textTask())).status).toBe(201)
})
afterAll(async () => f?.close())

const REFUSAL = 'This API key may not use the collection "brand".'

describe('a key limited to other collections', () => {
  it('is refused the collection with one answer at every place that names it', async () => {
    const generate = await f.t.makeKey(['generate'], ['other'])
    const admin = await f.t.makeKey(['admin'], ['other'])
    const queued = await f.t.request('/v1/collections/brand/ingest', {
      method: 'POST',
      key: f.t.adminKey,
      json: { records: [{ sku: 'a1', name: 'Tent' }] },
    })
    expect(queued.status).toBe(202)
    const { jobId } = await json(queued)

    const answers = [
      await f.t.request('/v1/retrieve', {
        method: 'POST',
        key: generate.key,
        json: { collection: 'brand', query: 'tent' },
      }),
      await f.generate({ task: 'copy', input: 'tent', variables: { brand: 'Acme' } }, generate.key),
      await f.t.request('/v1/collections/brand', { key: admin.key }),
      await f.t.request('/v1/collections/brand/documents', { key: admin.key }),
      await f.t.request('/v1/collections/brand/ingest', {
        method: 'POST',
        key: admin.key,
        json: { records: [{ sku: 'a2', name: 'Stove' }] },
      }),
      await f.t.request('/v1/tasks/copy-2', { method: 'PUT', key: admin.key, json: textTask() }),
      await f.t.request('/v1/keys', {
        method: 'POST',
        key: admin.key,
        json: { name: 'wider', scopes: ['generate'], collections: ['other', 'brand'] },
      }),
    ]
    for (const res of answers) {
      expect(res.status).toBe(403)
      expect(await json(res)).toMatchObject({ code: 'forbidden', detail: REFUSAL })
    }
    // A job is found by its id alone: another collection's is invisible, not refused.
    const job = await f.t.request(`/v1/ingest-jobs/${jobId}`, { key: admin.key })
    expect(job.status).toBe(404)
  })
})
