import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ingestDeps, runToEnd } from '../ingest/ingest-harness.js'
import { type OpenAIStub, startOpenAIStub } from '../support/openai-stub.js'
import { createTestApp, json, type TestApp } from '../support/test-app.js'

let t: TestApp
let stub: OpenAIStub

const GUIDE = `# Numbers

## In headings

Write numbers in headings as numerals: 3 ways to save, not three ways to save.

## In body text

Spell out one to nine in body text and use numerals from 10.
`

beforeAll(async () => {
  t = await createTestApp()
  stub = await startOpenAIStub()
  for (const name of ['docs', 'lexical']) {
    const res = await t.request('/v1/collections', {
      method: 'POST',
      key: t.adminKey,
      json: { name, embeddingModel: 'stub-embed', embeddingDimensions: 64 },
    })
    expect(res.status).toBe(201)
  }
  const form = new FormData()
  form.append('files', new File([GUIDE], 'style/numbers.md'))
  form.append('files', new File(['# Voice\n\nWe sound like people, not a manual.\n'], 'voice.md'))
  form.append('files', new File(['sku,name,description\nT-1,Trail 50% tent,Light tent\n'], 'tents.csv'))
  const queued = await json(
    await t.request('/v1/collections/docs/ingest', { method: 'POST', key: t.adminKey, body: form }),
  )
  await runToEnd(ingestDeps(t.db, stub.url), queued.jobId)
  // Without a provider the chunks are stored for full-text search only: "not embedded".
  const lexical = new FormData()
  lexical.append('files', new File([GUIDE], 'numbers.md'))
  const job = await json(
    await t.request('/v1/collections/lexical/ingest', { method: 'POST', key: t.adminKey, body: lexical }),
  )
  await runToEnd(ingestDeps(t.db, undefined), job.jobId)
})
afterAll(async () => {
  await stub.close()
  await t.close()
})

const documents = async (collection: string, query = '') =>
  (await json(await t.request(`/v1/collections/${collection}/documents${query}`, { key: t.adminKey })))
    .data as { id: number; sourceId: string; title: string }[]

describe('documents of a collection', () => {
  it('filters by text in the source id or title, ignoring case, with LIKE characters taken literally', async () => {
    expect((await documents('docs', '?q=NUMBERS')).map((d) => d.sourceId)).toEqual(['style/numbers.md'])
    expect((await documents('docs', '?q=voice')).map((d) => d.sourceId)).toEqual(['voice.md'])
    expect((await documents('docs', '?q=50%25')).map((d) => d.sourceId)).toEqual(['T-1'])
    expect(await documents('docs', '?q=%25')).toHaveLength(1)
    expect(await documents('docs', '?q=_')).toHaveLength(0)
    expect(await documents('docs', '?q=numbers&kind=product')).toHaveLength(0)
  })

  it('gives each document its id, and answers one document by it', async () => {
    const [numbers] = await documents('docs', '?q=numbers')
    expect(numbers!.id).toBeGreaterThan(0)
    const res = await t.request(`/v1/collections/docs/documents/${numbers!.id}`, { key: t.adminKey })
    expect(res.status).toBe(200)
    expect(await json(res)).toMatchObject({ id: numbers!.id, sourceId: 'style/numbers.md', title: 'Numbers' })
  })

  it('answers 404 for a document of another collection, so ids cannot be probed across collections', async () => {
    const [inOther] = await documents('lexical')
    const res = await t.request(`/v1/collections/docs/documents/${inOther!.id}`, { key: t.adminKey })
    expect(res.status).toBe(404)
    const chunks = await t.request(`/v1/collections/docs/documents/${inOther!.id}/chunks`, {
      key: t.adminKey,
    })
    expect(chunks.status).toBe(404)
    expect((await t.request('/v1/collections/docs/documents/abc', { key: t.adminKey })).status).toBe(400)
  })
})

describe('chunks of a document', () => {
  it('lists them in reading order with heading path, tokens and whether each is embedded', async () => {
    const [numbers] = await documents('docs', '?q=numbers')
    const page = await json(
      await t.request(`/v1/collections/docs/documents/${numbers!.id}/chunks`, { key: t.adminKey }),
    )
    expect(page.nextCursor).toBeNull()
    expect(page.data.length).toBeGreaterThanOrEqual(1)
    expect(page.data.map((c: { ordinal: number }) => c.ordinal)).toEqual(
      page.data.map((_: unknown, i: number) => i),
    )
    const text = page.data.map((c: { text: string }) => c.text).join('\n')
    expect(text).toContain('3 ways to save')
    expect(page.data.map((c: { headingPath: string }) => c.headingPath)).toContain('Numbers > In headings')
    for (const chunk of page.data) {
      expect(chunk.tokens).toBeGreaterThan(5)
      expect(chunk).toMatchObject({ embedded: true, embeddingModel: 'stub-embed' })
    }
  })

  it('says "not embedded" for chunks stored without a provider', async () => {
    const [doc] = await documents('lexical')
    const page = await json(
      await t.request(`/v1/collections/lexical/documents/${doc!.id}/chunks`, { key: t.adminKey }),
    )
    expect(page.data.length).toBeGreaterThan(0)
    for (const chunk of page.data) expect(chunk).toMatchObject({ embedded: false, embeddingModel: null })
  })

  it('pages with a cursor of ordinals', async () => {
    const [doc] = await documents('docs', '?q=numbers')
    const base = `/v1/collections/docs/documents/${doc!.id}/chunks`
    const all = await json(await t.request(base, { key: t.adminKey }))
    const seen: number[] = []
    let after: number | null = null
    do {
      const query: string = after === null ? '?limit=1' : `?limit=1&after=${after}`
      const page = await json(await t.request(`${base}${query}`, { key: t.adminKey }))
      expect(page.data.length).toBeLessThanOrEqual(1)
      seen.push(...page.data.map((c: { id: number }) => c.id))
      after = page.nextCursor
    } while (after !== null)
    expect(seen).toEqual(all.data.map((c: { id: number }) => c.id))
  })
})

describe('GET /v1/me', () => {
  it('tells any live key its name, scopes and collection allowlist, and nothing else', async () => {
    const limited = await t.makeKey(['generate'], ['docs'])
    const res = await t.request('/v1/me', { key: limited.key })
    expect(res.status).toBe(200)
    expect(await json(res)).toEqual({
      id: limited.id,
      name: 'test generate',
      scopes: ['generate'],
      collections: ['docs'],
    })
    expect(await json(await t.request('/v1/me', { key: t.adminKey }))).toMatchObject({
      scopes: ['admin', 'generate'],
      collections: null,
    })
    expect((await t.request('/v1/me')).status).toBe(401)
  })
})
