import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_UPLOAD_FILES } from '../../src/http/routes/ingest/ingest.schemas.js'
import { METADATA_FILTER_LIMITS } from '../../src/retrieval/types.js'
import { createTestApp, json, type TestApp } from '../support/test-app.js'

// Inputs that used to reach the database or the parser unbounded and came back as 500 (issue 11,
// item 14): each is a 400 that names the field and the limit.

let t: TestApp
beforeAll(async () => {
  t = await createTestApp({ RATE_LIMIT_RPM: '0', RATE_LIMIT_TPM: '0' })
  expect(
    (
      await t.request('/v1/collections', {
        method: 'POST',
        key: t.adminKey,
        json: { name: 'brand', embeddingDimensions: 8 },
      })
    ).status,
  ).toBe(201)
})
afterAll(async () => t?.close())

function nested(levels: number): Record<string, unknown> {
  let value: unknown = 'deep'
  for (let i = 0; i < levels; i++) value = { k: value }
  return value as Record<string, unknown>
}

const task = (filters: Record<string, unknown>) => ({
  systemPrompt: 'Copy.',
  retrieval: { collection: 'brand', filters },
  route: { strategy: 'foundation', foundationModel: 'gpt-4o-mini' },
})

describe('a metadata filter nested thousands of levels deep', () => {
  it('is a 400 naming filters.metadata wherever filters are taken', async () => {
    // Written by hand: JSON.stringify itself recurses and would overflow on this value.
    const deep = `{"metadata": ${'{"k":'.repeat(5000)}"deep"${'}'.repeat(5000)}}`
    const send = (method: string, path: string, body: string) =>
      t.request(path, { method, key: t.adminKey, headers: { 'content-type': 'application/json' }, body })
    const definition = JSON.stringify(task({ kind: 'product' }))
    const answers = [
      await send('POST', '/v1/retrieve', `{"collection": "brand", "query": "x", "filters": ${deep}}`),
      await send('POST', '/v1/generate', `{"task": "none", "input": "x", "filters": ${deep}}`),
      await send('PUT', '/v1/tasks/deep', definition.replace('{"kind":"product"}', deep)),
    ]
    for (const res of answers) {
      expect(res.status).toBe(400)
      const body = await json(res)
      expect(body.code).toBe('validation_failed')
      expect(body.errors[0]).toEqual({
        path: expect.stringMatching(/filters\.metadata$/),
        message: `must not nest deeper than ${METADATA_FILTER_LIMITS.maxDepth} levels`,
      })
    }
  })

  it('is accepted up to the limit, and refused just over it or when too large', async () => {
    const post = (metadata: Record<string, unknown>) =>
      t.request('/v1/retrieve', {
        method: 'POST',
        key: t.adminKey,
        json: { collection: 'brand', query: 'x', filters: { metadata } },
      })
    expect((await post(nested(METADATA_FILTER_LIMITS.maxDepth))).status).toBe(200)
    expect((await post(nested(METADATA_FILTER_LIMITS.maxDepth + 1))).status).toBe(400)
    const big = await post({ note: 'x'.repeat(METADATA_FILTER_LIMITS.maxChars) })
    expect(big.status).toBe(400)
    expect(JSON.stringify(await json(big))).toContain(`at most ${METADATA_FILTER_LIMITS.maxChars} characters`)
  })
})

describe('integers beyond PostgreSQL integer in paths and queries', () => {
  it('answer 400, not 500', async () => {
    expect((await t.request('/v1/tasks/x', { method: 'PUT', key: t.adminKey, json: task({}) })).status).toBe(
      201,
    )
    for (const [method, path] of [
      ['GET', '/v1/tasks/x/versions/2147483648'],
      ['POST', '/v1/tasks/x/versions/2147483648/activate'],
      ['GET', '/v1/tasks/x/versions/99999999999999999999'],
      ['GET', '/v1/collections/brand/documents/1/chunks?after=2147483648'],
      ['GET', '/v1/collections/brand/documents/9007199254740993'],
    ] as const) {
      const res = await t.request(path, { method, key: t.adminKey })
      expect(res.status, path).toBe(400)
      expect((await json(res)).code).toBe('validation_failed')
    }
    // The largest integer is a plain miss.
    expect((await t.request('/v1/tasks/x/versions/2147483647', { key: t.adminKey })).status).toBe(404)
  })
})

describe('an upload of more files than allowed', () => {
  // Building and parsing 10,001 parts takes a few seconds, many more on a loaded machine.
  it('is a 400 naming the limit, not "Invalid input"', { timeout: 180_000 }, async () => {
    const form = new FormData()
    for (let i = 0; i <= MAX_UPLOAD_FILES; i++) form.append('files', new File([`# ${i}\n`], `f${i}.md`))
    const res = await t.app.request('/v1/collections/brand/ingest', {
      method: 'POST',
      headers: { authorization: `Bearer ${t.adminKey}` },
      body: form,
    })
    expect(res.status).toBe(400)
    const body = await json(res)
    expect(body.errors).toEqual([
      {
        path: 'files',
        message: `at most ${MAX_UPLOAD_FILES} files per upload (got ${MAX_UPLOAD_FILES + 1}); split the upload`,
      },
    ])
  })
})
