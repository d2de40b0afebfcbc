import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type OpenAIStub, startOpenAIStub } from '../support/openai-stub.js'
import { seedCollection } from '../support/seed-chunks.js'
import { createTestApp, json, type TestApp } from '../support/test-app.js'

let t: TestApp
let stub: OpenAIStub

beforeAll(async () => {
  stub = await startOpenAIStub()
  t = await createTestApp({ OPENAI_BASE_URL: stub.url, OPENAI_API_KEY: 'test', EF_SEARCH_MAX: '200' })
  await seedCollection(t.db.pool, { name: 'brand' }, [
    {
      sourceId: 'voice.md',
      title: 'Voice and tone',
      chunks: [
        { headingPath: 'Voice > Grammar', text: 'Use the active voice. Keep sentences short.' },
        { headingPath: 'Voice > Grammar', text: 'Avoid jargon; prefer plain words your reader knows.' },
      ],
    },
    {
      sourceId: 'products/zx-4471.json',
      kind: 'product',
      title: 'Trailmaster backpack',
      metadata: { locale: 'en-AU' },
      chunks: ['Trailmaster backpack, 40 litre, waterproof.'],
    },
  ])
  await seedCollection(t.db.pool, { name: 'secret' }, [
    { sourceId: 's.md', chunks: ['Internal pricing notes.'] },
  ])
})

afterAll(async () => {
  await t?.close()
  await stub?.close()
})

const post = (body: unknown, key = t.adminKey) =>
  t.request('/v1/retrieve', { method: 'POST', key, json: body })

async function expectProblem(res: Response, status: number, code: string) {
  expect(res.status).toBe(status)
  expect(res.headers.get('content-type')).toContain('application/problem+json')
  const body = await json(res)
  expect(body).toMatchObject({ status, code })
  return body
}

describe('POST /v1/retrieve', () => {
  it('returns packed passages with their document, heading path, chunk ids and scores', async () => {
    const res = await post({
      collection: 'brand',
      query: 'plain words and active voice',
      k: 5,
      budgetTokens: 500,
    })
    expect(res.status).toBe(200)
    const body = await json(res)
    expect(body).toMatchObject({ collection: 'brand', mode: 'hybrid' })
    const [first] = body.passages
    // The two voice chunks are neighbours in one document, so they come back as one passage.
    expect(first).toMatchObject({
      sourceId: 'voice.md',
      title: 'Voice and tone',
      headingPath: 'Voice > Grammar',
      kind: 'guideline',
    })
    expect(first.chunkIds).toHaveLength(2)
    expect(first.scores.vector).toBeGreaterThan(0)
    expect(first.scores.lexical).toBeGreaterThan(0)
    expect(first.scores.fused).toBeGreaterThan(0)
    expect(body.usedTokens).toBe(
      body.passages.reduce((sum: number, p: { tokens: number }) => sum + p.tokens, 0),
    )
  })

  it('applies filters', async () => {
    const res = await post({ collection: 'brand', query: 'backpack voice', filters: { kind: 'product' } })
    const body = await json(res)
    expect(body.passages.map((p: { sourceId: string }) => p.sourceId)).toEqual(['products/zx-4471.json'])
  })

  it('accepts an ef_search within the server bound', async () => {
    expect((await post({ collection: 'brand', query: 'voice', efSearch: 200 })).status).toBe(200)
  })
})

describe('POST /v1/retrieve errors', () => {
  it('answers 400 problem+json for an empty query, k out of range, an oversized query and bad filters', async () => {
    const cases: [unknown, string][] = [
      [{ collection: 'brand', query: '   ' }, 'query'],
      [{ collection: 'brand', query: 'voice', k: 0 }, 'k'],
      [{ collection: 'brand', query: 'voice', k: 101 }, 'k'],
      [{ collection: 'brand', query: 'v'.repeat(2001) }, 'query'],
      [{ collection: 'brand', query: 'voice', budgetTokens: 0 }, 'budgetTokens'],
      [{ collection: 'brand', query: 'voice', efSearch: 201 }, 'efSearch'],
      [{ collection: 'brand', query: 'voice', filters: { knd: 'product' } }, 'filters'],
      [{ collection: 'brand', query: 'voice', filters: { metadata: 'locale=en' } }, 'filters.metadata'],
    ]
    for (const [body, path] of cases) {
      const problem = await expectProblem(await post(body), 400, 'validation_failed')
      expect(problem.errors.map((e: { path: string }) => e.path).join(' ')).toContain(path)
    }
  })

  it('answers 404 for an unknown collection', async () => {
    await expectProblem(await post({ collection: 'nope', query: 'voice' }), 404, 'not_found')
  })

  it("answers 403 for a collection outside the key's allowlist, whether or not it exists", async () => {
    const { key } = await t.makeKey(['generate'], ['brand'])
    expect((await post({ collection: 'brand', query: 'voice' }, key)).status).toBe(200)
    await expectProblem(await post({ collection: 'secret', query: 'pricing' }, key), 403, 'forbidden')
    await expectProblem(await post({ collection: 'nope', query: 'pricing' }, key), 403, 'forbidden')
  })

  it('needs a key with the generate scope', async () => {
    const { key } = await t.makeKey(['admin'])
    await expectProblem(await post({ collection: 'brand', query: 'voice' }, key), 403, 'forbidden')
    await expectProblem(
      await t.request('/v1/retrieve', { method: 'POST', json: { collection: 'brand', query: 'x' } }),
      401,
      'unauthorized',
    )
  })

  it('answers 502 when the embedding model fails', async () => {
    stub.failNext({ path: 'embeddings', status: 500 })
    await expectProblem(
      await post({ collection: 'brand', query: 'a query never embedded before' }),
      502,
      'upstream_error',
    )
  })
})

describe('retrieval metrics', () => {
  const hybridCount = async () => {
    const res = await t.request('/metrics', { key: t.adminKey })
    expect(res.status).toBe(200)
    const line = (await res.text())
      .split('\n')
      .find((l) => l.startsWith('onbrand_retrieval_duration_seconds_count{mode="hybrid"}'))
    return line === undefined ? 0 : Number(line.split(' ').at(-1))
  }

  it('records each retrieval in onbrand_retrieval_duration_seconds, by mode', async () => {
    const before = await hybridCount()
    expect((await post({ collection: 'brand', query: 'active voice' })).status).toBe(200)
    const after = await hybridCount()
    expect(after).toBe(before + 1)
    expect(after).toBeGreaterThanOrEqual(1)
  })
})
