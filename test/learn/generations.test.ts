import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { dropExpiredPrompts } from '../../src/db/generation-reads.js'
import {
  createGenerationFixture,
  FINE_TUNED,
  FOUNDATION,
  type GenerationFixture,
  textTask,
} from '../generation/generation-fixture.js'
import { seedCollection } from '../support/seed-chunks.js'
import { json } from '../support/test-app.js'

let f: GenerationFixture
let generateKey: string
let otherGenerateKey: string

beforeAll(async () => {
  f = await createGenerationFixture()
  expect((await f.putTask('copy', textTask())).status).toBe(201)
  expect(
    (
      await f.putTask(
        'copy-split',
        textTask({
          route: { strategy: 'split', foundationModel: FOUNDATION, fineTunedModel: FINE_TUNED, share: 0.5 },
        }),
      )
    ).status,
  ).toBe(201)
  generateKey = (await f.t.makeKey(['generate'])).key
  otherGenerateKey = (await f.t.makeKey(['generate'])).key
})
afterAll(async () => f?.close())
beforeEach(() => f.stub.reset())

async function generate(body: Record<string, unknown>, key?: string): Promise<string> {
  const res = await f.generate({ variables: { brand: 'Acme' }, ...body }, key)
  expect(res.status).toBe(200)
  return (await json(res)).id
}

const get = (path: string, key = f.t.adminKey) => f.t.request(path, { key })

describe('exact prompts', () => {
  it('keeps the messages exactly as sent and the passages they numbered, after a re-ingest changes them', async () => {
    const id = await generate({ task: 'copy', input: 'Trailblazer tent plain English' })
    const sent = f.chatBodies().at(-1)!.messages as { role: string; content: string }[]
    // The guidelines change: the same documents now hold other text.
    await f.t.db.pool.query(`UPDATE chunks SET text = 'REWRITTEN ' || text`)
    const res = await get(`/v1/generations/${id}`)
    expect(res.status).toBe(200)
    const body = await json(res)
    expect(body.messages).toEqual(sent)
    expect(body.messages[0].content).toContain('[1] (source: ')
    expect(body.messages[0].content).not.toContain('REWRITTEN')
    expect(body.passages.length).toBeGreaterThan(0)
    for (const passage of body.passages) {
      expect(passage.text).not.toContain('REWRITTEN')
      expect(body.messages[0].content).toContain(passage.text)
    }
    expect(body.citations.map((c: { n: number }) => c.n)).toEqual(
      body.passages.map((_: unknown, i: number) => i + 1),
    )
    expect(body.route).toMatchObject({
      model: FOUNDATION,
      strategy: 'foundation',
      arm: 'foundation',
      template: 'foundation',
    })
    expect(body.usage.promptTokens).toBeGreaterThan(0)
    expect(body.input).toBe('Trailblazer tent plain English')
    expect(body.variables).toEqual({ brand: 'Acme' })
    await f.t.db.pool.query(`UPDATE chunks SET text = substr(text, 11) WHERE text LIKE 'REWRITTEN %'`)
  })

  it('keeps the caller’s whole conversation for the OpenAI-compatible endpoint', async () => {
    const conversation = [
      { role: 'user', content: 'Hats?' },
      { role: 'assistant', content: 'Hats are good.' },
      { role: 'user', content: 'Trailblazer tent' },
    ]
    const res = await f.t.request('/v1/chat/completions', {
      method: 'POST',
      key: f.t.adminKey,
      json: { model: 'copy', messages: conversation, onbrand: { variables: { brand: 'Acme' } } },
    })
    expect(res.status).toBe(200)
    const id = (await json(res)).onbrand.id
    const body = await json(await get(`/v1/generations/${id}`))
    expect(body.endpoint).toBe('chat_completions')
    expect(body.messages).toEqual(f.chatBodies().at(-1)!.messages)
    expect(body.messages.slice(1)).toEqual(conversation)
  })
})

describe('GET /v1/generations', () => {
  it('lists newest first with cursor pagination that neither repeats nor skips', async () => {
    const ids: string[] = []
    for (let i = 0; i < 5; i++)
      ids.push(await generate({ task: 'copy', input: `page ${i}`, subject: 'pager' }))
    await f.t.flush()
    const seen: string[] = []
    let cursor: string | null = null
    for (let pages = 0; pages < 10; pages++) {
      const query: string = `subject=pager&limit=2${cursor ? `&cursor=${cursor}` : ''}`
      const page = await json(await get(`/v1/generations?${query}`))
      expect(page.data.length).toBeLessThanOrEqual(2)
      seen.push(...page.data.map((g: { id: string }) => g.id))
      cursor = page.nextCursor
      if (!cursor) break
    }
    expect(seen).toEqual([...ids].reverse())
  })

  it('filters by task, version, model, strategy, arm, status, review state, subject and time', async () => {
    const splitIds: string[] = []
    for (let i = 0; i < 12; i++) {
      splitIds.push(await generate({ task: 'copy-split', input: 'tent', subject: `visitor-${i}` }))
    }
    const plain = await generate({ task: 'copy', input: 'tent', subject: 'filter-one' })
    await f.t.flush()
    const list = async (query: string) =>
      (await json(await get(`/v1/generations?limit=200&${query}`))).data as Record<string, any>[]

    const split = await list('task=copy-split')
    expect(split.map((g) => g.id).sort()).toEqual([...splitIds].sort())
    expect((await list('task=copy-split&taskVersion=1')).length).toBe(12)
    expect((await list('task=copy-split&taskVersion=2')).length).toBe(0)
    const fineTuned = await list('task=copy-split&arm=fine_tuned')
    const foundation = await list('task=copy-split&arm=foundation')
    // A 50% split of 12 subjects: both arms got some.
    expect(fineTuned.length).toBeGreaterThan(0)
    expect(foundation.length).toBeGreaterThan(0)
    expect(fineTuned.length + foundation.length).toBe(12)
    expect(fineTuned.every((g) => g.route.model === FINE_TUNED && g.route.arm === 'fine_tuned')).toBe(true)
    expect((await list(`task=copy-split&model=${encodeURIComponent(FINE_TUNED)}`)).length).toBe(
      fineTuned.length,
    )
    expect((await list('strategy=split')).length).toBe(12)
    expect((await list('subject=filter-one')).map((g) => g.id)).toEqual([plain])
    expect((await list('subject=filter-one&status=failed')).length).toBe(0)
    expect((await list('subject=filter-one&status=succeeded')).length).toBe(1)
    expect((await list('subject=filter-one&reviewState=unreviewed')).length).toBe(1)
    expect((await list('subject=filter-one&reviewState=approved')).length).toBe(0)
    const future = new Date(Date.now() + 60_000).toISOString()
    const past = new Date(Date.now() - 3_600_000).toISOString()
    expect((await list(`subject=filter-one&from=${future}`)).length).toBe(0)
    expect((await list(`subject=filter-one&from=${past}&to=${future}`)).length).toBe(1)
    expect((await list(`subject=filter-one&to=${past}`)).length).toBe(0)
  })

  it('refuses a cursor it did not issue', async () => {
    const res = await get('/v1/generations?cursor=bm90LWEtY3Vyc29y')
    expect(res.status).toBe(400)
    expect((await json(res)).code).toBe('bad_request')
  })
})

describe('who sees which generations', () => {
  it('shows a generate key only its own, in the list and one by one', async () => {
    const mine = await generate({ task: 'copy', input: 'mine', subject: 'owner-test' }, generateKey)
    const theirs = await generate({ task: 'copy', input: 'theirs', subject: 'owner-test' }, otherGenerateKey)
    await f.t.flush()
    const listed = (await json(await get('/v1/generations?subject=owner-test', generateKey))).data
    expect(listed.map((g: { id: string }) => g.id)).toEqual([mine])
    expect((await get(`/v1/generations/${mine}`, generateKey)).status).toBe(200)
    expect((await get(`/v1/generations/${theirs}`, generateKey)).status).toBe(404)
    // An admin key sees both.
    const all = (await json(await get('/v1/generations?subject=owner-test'))).data
    expect(all.map((g: { id: string }) => g.id).sort()).toEqual([mine, theirs].sort())
  })

  it('shows admin and review keys only the generations of collections on their allowlist', async () => {
    await seedCollection(f.t.db.pool, { name: 'other-brand', dimensions: 64 }, [
      { sourceId: 'x.md', chunks: ['Other brand tents are loud.'] },
    ])
    const inBrand = await generate({ task: 'copy', input: 'tent', subject: 'allowlist-test' })
    const inOther = await generate({
      task: 'copy',
      input: 'tent',
      subject: 'allowlist-test',
      collection: 'other-brand',
    })
    await f.t.flush()
    for (const scopes of [['admin'], ['review']] as const) {
      const limited = (await f.t.makeKey([...scopes], ['brand'])).key
      const listed = (await json(await get('/v1/generations?subject=allowlist-test', limited))).data
      expect(
        listed.map((g: { id: string }) => g.id),
        scopes[0],
      ).toEqual([inBrand])
      expect((await get(`/v1/generations/${inOther}`, limited)).status, scopes[0]).toBe(404)
      expect((await get(`/v1/generations/${inBrand}`, limited)).status, scopes[0]).toBe(200)
    }
    const unlimitedReviewer = (await f.t.makeKey(['review'])).key
    const all = (await json(await get('/v1/generations?subject=allowlist-test', unlimitedReviewer))).data
    expect(all.length).toBe(2)
  })
})

describe('prompt retention', () => {
  it('drops the stored prompts of old unreviewed generations and keeps reviewed and recent ones', async () => {
    const old = await generate({ task: 'copy', input: 'old', subject: 'retention' })
    const reviewed = await generate({ task: 'copy', input: 'old reviewed', subject: 'retention' })
    const recent = await generate({ task: 'copy', input: 'recent', subject: 'retention' })
    await f.t.flush()
    await f.t.db.pool.query(
      `UPDATE generations SET created_at = now() - interval '91 days' WHERE id = ANY ($1::uuid[])`,
      [[old, reviewed]],
    )
    await f.t.db.pool.query(`INSERT INTO feedback (generation_id, approved) VALUES ($1, true)`, [reviewed])
    expect(await dropExpiredPrompts(f.t.db.pool, 90)).toBe(1)
    const detail = async (id: string) => json(await get(`/v1/generations/${id}`))
    const dropped = await detail(old)
    expect(dropped.messages).toBeNull()
    expect(dropped.passages).toBeNull()
    expect(dropped.promptDroppedAt).not.toBeNull()
    // The output and the rest of the log stay.
    expect(dropped.output).not.toBeNull()
    expect((await detail(reviewed)).messages).not.toBeNull()
    expect((await detail(recent)).messages).not.toBeNull()
    // A longer retention keeps everything; running again drops nothing more.
    expect(await dropExpiredPrompts(f.t.db.pool, 90)).toBe(0)
  })
})
