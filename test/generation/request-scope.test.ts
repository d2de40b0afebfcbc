import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seedCollection } from '../support/seed-chunks.js'
import { json } from '../support/test-app.js'
import {
  createGenerationFixture,
  FOUNDATION,
  type GenerationFixture,
  textTask,
} from './generation-fixture.js'

// What a request may change of a task's retrieval (item 6 of issue 11) and what blank input may not
// skip (item 7). Every answer here is a dryRun: the passages a request would see are its citations.

let f: GenerationFixture
let otherKey: string
let intranetKey: string
beforeAll(async () => {
  f = await createGenerationFixture()
  const doc = (sourceId: string, kind: 'guideline' | 'product', audience: string) => ({
    sourceId,
    kind,
    title: sourceId,
    metadata: { audience, tags: [audience] },
    chunks: [`Shipping policy (${sourceId}) for ${audience} readers: parcels leave within two days.`],
  })
  await seedCollection(f.t.db.pool, { name: 'intranet', dimensions: 64 }, [
    doc('public/shipping.md', 'guideline', 'public'),
    doc('internal/shipping.md', 'guideline', 'internal'),
    doc('public/parcel.json', 'product', 'public'),
    doc('internal/parcel.json', 'product', 'internal'),
  ])
  const publicOnly = (filters: Record<string, unknown>) =>
    textTask({
      systemPrompt: 'Answer customers of {{brand}}.\n\n{{context}}',
      retrieval: { collection: 'intranet', k: 10, filters },
    })
  expect((await f.putTask('public-answers', publicOnly({ metadata: { audience: 'public' } }))).status).toBe(
    201,
  )
  expect((await f.putTask('public-guides', publicOnly({ kind: 'guideline' }))).status).toBe(201)
  expect((await f.putTask('public-prefix', publicOnly({ sourcePrefix: 'public/' }))).status).toBe(201)
  expect((await f.putTask('copy', textTask())).status).toBe(201)
  expect(
    (
      await f.putTask(
        'no-retrieval',
        textTask({ retrieval: {}, route: { strategy: 'foundation', foundationModel: FOUNDATION } }),
      )
    ).status,
  ).toBe(201)
  otherKey = (await f.t.makeKey(['generate'], ['other'])).key
  intranetKey = (await f.t.makeKey(['generate'], ['intranet'])).key
})
afterAll(async () => f?.close())

async function sources(
  task: string,
  filters?: Record<string, unknown>,
  input = 'shipping policy parcels',
): Promise<string[]> {
  const res = await f.generate({
    task,
    input,
    variables: { brand: 'Acme' },
    dryRun: true,
    ...(filters ? { filters } : {}),
  })
  expect(res.status).toBe(200)
  const body = await json(res)
  return (body.citations as { sourceId: string }[]).map((c) => c.sourceId).sort()
}

describe("request filters and a task's filters", () => {
  it("apply the task's filters when the request sends none", async () => {
    expect(await sources('public-answers')).toEqual(['public/parcel.json', 'public/shipping.md'])
  })

  it('cannot swap a metadata value the task fixed for another: a contradiction matches nothing', async () => {
    expect(await sources('public-answers', { metadata: { audience: 'internal' } })).toEqual([])
    expect(
      await sources('public-answers', { metadata: { audience: 'internal', tags: ['internal'] } }),
    ).toEqual([])
  })

  it("cannot swap the task's kind or source prefix either", async () => {
    expect(await sources('public-guides', { kind: 'product' })).toEqual([])
    expect(await sources('public-prefix', { sourcePrefix: 'internal/' })).toEqual([])
  })

  it('narrow the task: both sets apply together', async () => {
    expect(await sources('public-answers', { kind: 'product' })).toEqual(['public/parcel.json'])
    expect(await sources('public-guides', { metadata: { audience: 'public' } })).toEqual([
      'public/shipping.md',
    ])
    expect(await sources('public-prefix', { sourcePrefix: 'public/ship' })).toEqual(['public/shipping.md'])
    expect(await sources('public-answers', { metadata: { tags: ['public'] } })).toEqual([
      'public/parcel.json',
      'public/shipping.md',
    ])
  })

  it('in chat completions too (onbrand.filters)', async () => {
    const res = await f.t.request('/v1/chat/completions', {
      method: 'POST',
      key: f.t.adminKey,
      json: {
        model: 'public-answers',
        messages: [{ role: 'user', content: 'shipping policy parcels' }],
        onbrand: { variables: { brand: 'Acme' }, filters: { metadata: { audience: 'internal' } } },
      },
    })
    expect(res.status).toBe(200)
    const body = await json(res)
    expect(body.onbrand.citations).toEqual([])
    const sent = JSON.stringify(f.chatBodies().at(-1))
    expect(sent).not.toContain('internal readers')
  })
})

describe('blank input', () => {
  const blankInputs = ['', '   ', '\n\t \u00a0']

  it('does not skip the collection allowlist: a key limited to other collections gets 403, not the prompt', async () => {
    for (const input of blankInputs) {
      const res = await f.generate(
        { task: 'copy', input, variables: { brand: 'Acme' }, dryRun: true },
        otherKey,
      )
      expect(res.status).toBe(403)
      const text = await res.text()
      expect(text).not.toContain('You write product copy')
    }
    // The collection a request names is checked the same way.
    const named = await f.generate(
      { task: 'public-answers', input: ' ', collection: 'brand', variables: { brand: 'A' }, dryRun: true },
      intranetKey,
    )
    expect(named.status).toBe(403)
  })

  it('does not skip it in chat completions: null, blank or text-less last user messages', async () => {
    const lastMessages = [
      { role: 'user', content: null },
      { role: 'user' },
      { role: 'user', content: '  ' },
      { role: 'user', content: [] },
      { role: 'user', content: [{ type: 'text', text: ' ' }] },
    ]
    for (const last of lastMessages) {
      const res = await f.t.request('/v1/chat/completions', {
        method: 'POST',
        key: otherKey,
        json: {
          model: 'copy',
          messages: [{ role: 'user', content: 'earlier question' }, last],
          onbrand: { variables: { brand: 'Acme' } },
        },
      })
      expect(res.status, JSON.stringify(last)).toBe(403)
      expect(await res.text()).not.toContain('You write product copy')
    }
  })

  it('is a 400 that names the field for a key that may use the collection', async () => {
    for (const input of blankInputs) {
      const res = await f.generate({ task: 'copy', input, variables: { brand: 'Acme' }, dryRun: true })
      expect(res.status).toBe(400)
      expect(await json(res)).toMatchObject({
        code: 'validation_failed',
        errors: [{ path: 'input', message: 'must contain text' }],
      })
    }
    const noRetrieval = await f.generate({ task: 'no-retrieval', input: ' ', variables: { brand: 'A' } })
    expect(noRetrieval.status).toBe(400)
    const chat = await f.t.request('/v1/chat/completions', {
      method: 'POST',
      key: f.t.adminKey,
      json: {
        model: 'copy',
        messages: [{ role: 'user', content: null }],
        onbrand: { variables: { brand: 'A' } },
      },
    })
    expect(chat.status).toBe(400)
    expect(await json(chat)).toMatchObject({ code: 'validation_failed', errors: [{ path: 'messages' }] })
    expect(f.stub.chatCalls()).toBe(1)
  })
})

describe('the input as the retrieval query', () => {
  it('is plain words: quotes and a dash in a brief are prose, not search syntax', async () => {
    const task = textTask({
      systemPrompt: 'Answer customers of {{brand}}.\n\n{{context}}',
      retrieval: { collection: 'intranet', k: 10 },
    })
    expect((await f.putTask('all-answers', task)).status).toBe(201)
    // As search syntax: the phrase and every word required, chunks with "internal" excluded (the public two).
    const cited = await sources(
      'all-answers',
      undefined,
      'Our "shipping policy" for parcels -internal readers too',
    )
    expect(cited).toEqual([
      'internal/parcel.json',
      'internal/shipping.md',
      'public/parcel.json',
      'public/shipping.md',
    ])
  })
})
