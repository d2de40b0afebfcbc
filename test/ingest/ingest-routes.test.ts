import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type OpenAIStub, startOpenAIStub } from '../support/openai-stub.js'
import { createTestApp, json, type TestApp } from '../support/test-app.js'
import { FIXTURES, ingestDeps, runToEnd } from './ingest-harness.js'

let t: TestApp
let stub: OpenAIStub

beforeAll(async () => {
  t = await createTestApp({ MAX_BODY_BYTES: '2048', MAX_UPLOAD_BYTES: '200000' })
  stub = await startOpenAIStub()
})
afterAll(async () => {
  await stub.close()
  await t.close()
})

const create = (name: string, extra: Record<string, unknown> = {}) =>
  t.request('/v1/collections', {
    method: 'POST',
    key: t.adminKey,
    json: { name, embeddingModel: 'stub-embed', embeddingDimensions: 64, ...extra },
  })

function upload(
  name: string,
  files: { name: string; content: string | Uint8Array }[],
  fields: Record<string, string> = {},
) {
  const form = new FormData()
  for (const file of files) form.append('files', new File([file.content], file.name))
  for (const [key, value] of Object.entries(fields)) form.append(key, value)
  return t.request(`/v1/collections/${name}/ingest`, { method: 'POST', key: t.adminKey, body: form })
}

const fixture = (path: string) => readFileSync(join(FIXTURES, path))

describe('collections API', () => {
  it('creates a collection with its HNSW partial index, and refuses the same name twice', async () => {
    const res = await create('brand', { description: 'Brand voice', textSearchConfig: 'simple' })
    expect(res.status).toBe(201)
    expect(await json(res)).toMatchObject({
      name: 'brand',
      embeddingDimensions: 64,
      textSearchConfig: 'simple',
      documentCount: 0,
      lastIngest: null,
    })
    const { rows } = await t.db.pool.query(
      "SELECT indexdef FROM pg_indexes WHERE tablename = 'chunks' AND indexname LIKE 'chunks_hnsw_c%'",
    )
    expect(rows.some((row) => /hnsw .*vector\(64\).*WHERE \(collection_id = /i.test(row.indexdef))).toBe(true)
    expect((await create('brand')).status).toBe(409)
  })

  it('rejects bad names, dimensions and text search configs with field errors', async () => {
    const bad = await create('Bad Name!', { embeddingDimensions: 5000 })
    expect(bad.status).toBe(400)
    const body = await json(bad)
    expect(body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['embeddingDimensions', 'name'])
    const config = await create('odd-config', { textSearchConfig: 'klingon' })
    expect(config.status).toBe(400)
  })

  it('creates a collection with its ranking settings, and changes them one at a time', async () => {
    const defaults = await json(await create('ranking'))
    expect(defaults.retrieval).toEqual({ lexicalWeight: 0.8, bm25: { k1: 0.9, b: 0.4 } })
    const custom = await json(
      await create('ranking-custom', { retrieval: { lexicalWeight: 0.5, bm25: { b: 0.75 } } }),
    )
    expect(custom.retrieval).toEqual({ lexicalWeight: 0.5, bm25: { k1: 0.9, b: 0.75 } })
    const patch = (body: unknown) =>
      t.request('/v1/collections/ranking-custom', { method: 'PATCH', key: t.adminKey, json: body })
    const changed = await patch({ retrieval: { bm25: { k1: 1.2 } } })
    expect(changed.status).toBe(200)
    expect((await json(changed)).retrieval).toEqual({ lexicalWeight: 0.5, bm25: { k1: 1.2, b: 0.75 } })
    expect((await patch({ retrieval: { lexicalWeight: 1.5 } })).status).toBe(400)
    expect((await patch({ retrieval: { bm25: { k1: -1 } } })).status).toBe(400)
    expect((await patch({ name: 'renamed', retrieval: {} })).status).toBe(400)
    const missing = t.request('/v1/collections/nope', {
      method: 'PATCH',
      key: t.adminKey,
      json: { retrieval: {} },
    })
    expect((await missing).status).toBe(404)
  })

  it('needs an admin key, and a key limited to other collections gets 403', async () => {
    expect((await t.request('/v1/collections')).status).toBe(401)
    const generateOnly = await t.makeKey(['generate'])
    expect((await t.request('/v1/collections', { key: generateOnly.key })).status).toBe(403)
    const limited = await t.makeKey(['admin'], ['other'])
    expect((await t.request('/v1/collections/brand', { key: limited.key })).status).toBe(403)
    expect(
      (
        await upload('brand', [{ name: 'a.md', content: '# A' }]).then(() =>
          t.request('/v1/collections/brand/ingest', {
            method: 'POST',
            key: limited.key,
            json: { records: [{ sku: 'x' }] },
          }),
        )
      ).status,
    ).toBe(403)
    const list = await t.request('/v1/collections', { key: limited.key })
    expect((await json(list)).data).toEqual([])
  })
})

describe('ingest API', () => {
  it('accepts multipart files with 202 and a job whose progress, counts and errors can be followed', async () => {
    await create('uploads')
    const res = await upload('uploads', [
      { name: 'voice.md', content: fixture('guidelines/govau/voice.md') },
      { name: 'tone.md', content: fixture('guidelines/govau/tone.md') },
      { name: 'luma-bags.csv', content: fixture('products/luma-bags.csv') },
      { name: 'blank.md', content: '' },
    ])
    expect(res.status).toBe(202)
    const accepted = await json(res)
    expect(accepted).toMatchObject({
      status: 'queued',
      collection: 'uploads',
      statusUrl: `/v1/ingest-jobs/${accepted.jobId}`,
    })
    expect(res.headers.get('location')).toBe(accepted.statusUrl)

    const queued = await json(await t.request(accepted.statusUrl, { key: t.adminKey }))
    expect(queued).toMatchObject({ status: 'queued', progress: null })

    await runToEnd(ingestDeps(t.db, stub.url), accepted.jobId)
    const done = await json(await t.request(accepted.statusUrl, { key: t.adminKey }))
    expect(done).toMatchObject({
      status: 'succeeded_with_errors',
      progress: { files: { total: 4 }, documents: { total: 12, added: 12 }, errors: 1, etaSeconds: null },
      errors: [{ file: 'blank.md', message: 'the file is empty' }],
    })
    expect(done.progress.chunks.embedded).toBeGreaterThan(12)

    const collection = await json(await t.request('/v1/collections/uploads', { key: t.adminKey }))
    expect(collection).toMatchObject({
      documentCount: 12,
      lastIngest: { jobId: accepted.jobId, status: 'succeeded_with_errors' },
    })
    expect(collection.chunkCount).toBe(collection.embeddedChunkCount)
  })

  it('accepts JSON product records with a configurable id column', async () => {
    await create('records')
    const res = await t.request('/v1/collections/records/ingest', {
      method: 'POST',
      key: t.adminKey,
      json: {
        records: [{ code: 'R1', name: 'Runner', description: 'Light shoe' }, { name: 'No code' }],
        idColumn: 'code',
      },
    })
    expect(res.status).toBe(202)
    await runToEnd(ingestDeps(t.db, stub.url), (await json(res)).jobId)
    const page = await json(await t.request('/v1/collections/records/documents', { key: t.adminKey }))
    expect(page.data).toMatchObject([
      { sourceId: 'R1', kind: 'product', title: 'Runner', metadata: { code: 'R1' }, chunkCount: 1 },
    ])
  })

  it('pages through documents with a cursor', async () => {
    const seen: string[] = []
    let after: string | null = null
    do {
      const query: string = after ? `?limit=5&after=${encodeURIComponent(after)}` : '?limit=5'
      const page = await json(
        await t.request(`/v1/collections/uploads/documents${query}`, { key: t.adminKey }),
      )
      expect(page.data.length).toBeLessThanOrEqual(5)
      seen.push(...page.data.map((d: { sourceId: string }) => d.sourceId))
      after = page.nextCursor
    } while (after)
    expect(seen).toHaveLength(12)
    expect([...seen].sort()).toEqual(seen)
  })

  it('refuses path traversal in file names and archives, naming each file', async () => {
    const res = await upload('uploads', [
      { name: '../../etc/passwd.md', content: 'x' },
      { name: 'bundle.zip', content: Uint8Array.from([0x50, 0x4b, 0x03, 0x04]) },
      { name: 'ok.md', content: '# ok' },
    ])
    expect(res.status).toBe(400)
    const body = await json(res)
    expect(body.errors).toEqual([
      { path: 'files.0', message: expect.stringContaining('not an acceptable file name') },
      { path: 'files.1', message: 'bundle.zip is an archive; extract it and upload the files instead' },
    ])
  })

  it('answers 400 without files, 404 for an unknown collection or job, 415 for other content types', async () => {
    expect((await upload('uploads', [])).status).toBe(400)
    expect((await upload('nope', [{ name: 'a.md', content: '# a' }])).status).toBe(404)
    const job = await t.request('/v1/ingest-jobs/00000000-0000-4000-8000-000000000000', { key: t.adminKey })
    expect(job.status).toBe(404)
    const text = await t.request('/v1/collections/uploads/ingest', {
      method: 'POST',
      key: t.adminKey,
      headers: { 'content-type': 'text/plain' },
      body: 'hello',
    })
    expect(text.status).toBe(415)
  })

  it('allows uploads up to MAX_UPLOAD_BYTES though other bodies stop at MAX_BODY_BYTES', async () => {
    const big = `# Big\n\n${'word '.repeat(2000)}`
    expect((await upload('uploads', [{ name: 'big.md', content: big }])).status).toBe(202)
    const tooBig = await upload('uploads', [{ name: 'huge.md', content: 'x'.repeat(250_000) }])
    expect(tooBig.status).toBe(413)
    const keyBody = await t.request('/v1/keys', {
      method: 'POST',
      key: t.adminKey,
      json: { name: 'x'.repeat(3000), scopes: ['admin'] },
    })
    expect(keyBody.status).toBe(413)
  })

  it('deletes a collection with its documents and chunks', async () => {
    expect((await t.request('/v1/collections/records', { method: 'DELETE', key: t.adminKey })).status).toBe(
      204,
    )
    expect((await t.request('/v1/collections/records', { key: t.adminKey })).status).toBe(404)
    const { rows } = await t.db.pool.query(
      "SELECT count(*)::int AS n FROM documents d WHERE d.metadata->>'code' = 'R1'",
    )
    expect(rows[0].n).toBe(0)
  })

  it('lists the ingest routes in the OpenAPI document', async () => {
    const doc = await json(await t.request('/openapi.json'))
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/v1/collections',
        '/v1/collections/{name}/ingest',
        '/v1/ingest-jobs/{id}',
        '/v1/collections/{name}/documents',
      ]),
    )
    expect(Object.keys(doc.paths['/v1/collections/{name}/ingest'].post.requestBody.content)).toEqual([
      'multipart/form-data',
      'application/json',
    ])
  })
})
