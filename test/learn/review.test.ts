import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createGenerationFixture,
  FINE_TUNED,
  FOUNDATION,
  type GenerationFixture,
  textTask,
} from '../generation/generation-fixture.js'
import { json } from '../support/test-app.js'

let f: GenerationFixture
let reviewer: string
let generateKey: string

beforeAll(async () => {
  f = await createGenerationFixture()
  expect((await f.putTask('copy', textTask())).status).toBe(201)
  const split = { strategy: 'split', foundationModel: FOUNDATION, fineTunedModel: FINE_TUNED, share: 0.5 }
  expect((await f.putTask('queue', textTask({ route: split }))).status).toBe(201)
  expect((await f.putTask('race', textTask({ route: split }))).status).toBe(201)
  expect(
    (
      await f.putTask(
        'json-copy',
        textTask({
          output: {
            type: 'json',
            schema: {
              type: 'object',
              properties: { headline: { type: 'string' } },
              required: ['headline'],
              additionalProperties: false,
            },
          },
        }),
      )
    ).status,
  ).toBe(201)
  reviewer = (await f.t.makeKey(['review'])).key
  generateKey = (await f.t.makeKey(['generate'])).key
})
afterAll(async () => f?.close())

async function generate(task: string, subject: string, key?: string): Promise<string> {
  const res = await f.generate(
    { task, input: 'Trailblazer tent', variables: { brand: 'Acme' }, subject },
    key,
  )
  expect(res.status).toBe(200)
  return (await json(res)).id
}

const feedback = (id: string, body: unknown, key = reviewer) =>
  f.t.request(`/v1/generations/${id}/feedback`, { method: 'PUT', key, json: body })

async function rows(sql: string, params: unknown[]): Promise<Record<string, any>[]> {
  return (await f.t.db.pool.query(sql, params)).rows
}

describe('PUT /v1/generations/{id}/feedback', () => {
  it('keeps one current feedback per reviewer, with every change in the history', async () => {
    const id = await generate('copy', 'fb-1')
    const first = await feedback(id, { approved: true, rating: 5, labels: ['tone'] })
    expect(first.status).toBe(200)
    expect((await json(first)).generation.reviewState).toBe('approved')
    const flipped = await json(await feedback(id, { approved: false, comment: 'too long' }))
    expect(flipped.feedback).toMatchObject({
      approved: false,
      rating: null,
      comment: 'too long',
      revision: 2,
    })
    expect(flipped.generation.reviewState).toBe('rejected')
    expect(await rows('SELECT * FROM feedback WHERE generation_id = $1', [id])).toHaveLength(1)
    const history = await rows(
      'SELECT revision, approved FROM feedback_history WHERE generation_id = $1 ORDER BY id',
      [id],
    )
    expect(history).toEqual([
      { revision: 1, approved: true },
      { revision: 2, approved: false },
    ])
    const detail = await json(await f.t.request(`/v1/generations/${id}`, { key: f.t.adminKey }))
    expect(detail.reviewState).toBe('rejected')
    expect(detail.feedback).toHaveLength(1)
  })

  it('never duplicates under concurrent flips from several reviewers', async () => {
    const id = await generate('copy', 'fb-race')
    const reviewers = [reviewer, (await f.t.makeKey(['review'])).key, (await f.t.makeKey(['admin'])).key]
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        feedback(id, { approved: i % 2 === 0, rating: (i % 5) + 1 }, reviewers[i % 3]),
      ),
    )
    expect(results.map((r) => r.status)).toEqual(Array(30).fill(200))
    const current = await rows(
      'SELECT api_key_id, revision, approved FROM feedback WHERE generation_id = $1 ORDER BY api_key_id',
      [id],
    )
    expect(current).toHaveLength(3)
    expect(current.map((r) => r.revision)).toEqual([10, 10, 10])
    const history = await rows(
      'SELECT api_key_id, revision FROM feedback_history WHERE generation_id = $1 ORDER BY api_key_id, revision',
      [id],
    )
    expect(history).toHaveLength(30)
    // Revisions of each reviewer are 1..10 with none repeated.
    for (const key of new Set(history.map((h) => h.api_key_id))) {
      expect(history.filter((h) => h.api_key_id === key).map((h) => h.revision)).toEqual([
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
      ])
    }
    // The derived state matches the verdicts that won.
    const state = (await rows('SELECT review_state FROM generations WHERE id = $1', [id]))[0]!.review_state
    expect(state).toBe(current.some((r) => r.approved === false) ? 'rejected' : 'approved')
  })

  it('lets a generate key rate its own generations only, and never approve or correct', async () => {
    const own = await generate('copy', 'fb-own', generateKey)
    const other = await generate('copy', 'fb-other')
    expect((await feedback(own, { rating: 'up' }, generateKey)).status).toBe(200)
    expect((await json(await feedback(own, { rating: 4 }, generateKey))).feedback.rating).toBe(4)
    expect((await feedback(other, { rating: 'down' }, generateKey)).status).toBe(404)
    const approve = await feedback(own, { approved: true }, generateKey)
    expect(approve.status).toBe(403)
    expect((await feedback(own, { correctedOutput: 'Better.' }, generateKey)).status).toBe(403)
    // A rating is not a review.
    expect((await rows('SELECT review_state FROM generations WHERE id = $1', [own]))[0]!.review_state).toBe(
      'unreviewed',
    )
  })

  it('checks a JSON task’s correction against its schema', async () => {
    f.stub.setReply(FOUNDATION, '{"headline": "Tents"}')
    const id = await generate('json-copy', 'fb-json')
    const bad = await feedback(id, { correctedOutput: '{"headline": 3, "extra": true}' })
    expect(bad.status).toBe(400)
    const problem = await json(bad)
    expect(problem.code).toBe('validation_failed')
    expect(problem.errors.map((e: { path: string }) => e.path)).toContain('correctedOutput.headline')
    const notJson = await json(await feedback(id, { correctedOutput: 'Headline: Tents' }))
    expect(notJson.errors).toEqual([{ path: 'correctedOutput', message: 'not valid JSON' }])
    const good = await feedback(id, { correctedOutput: '{"headline": "Tents for two"}' })
    expect(good.status).toBe(200)
    expect((await json(good)).generation.reviewState).toBe('corrected')
    f.stub.reset()
  })

  it('refuses an empty body and unknown fields', async () => {
    const id = await generate('copy', 'fb-empty')
    expect((await feedback(id, {})).status).toBe(400)
    expect((await feedback(id, { approved: true, verdict: 'yes' })).status).toBe(400)
    expect((await feedback(id, { rating: 6 })).status).toBe(400)
  })

  it('answers with the generation id under onbrand on the OpenAI-compatible endpoint', async () => {
    const res = await f.t.request('/v1/chat/completions', {
      method: 'POST',
      key: f.t.adminKey,
      json: {
        model: 'copy',
        messages: [{ role: 'user', content: 'tent' }],
        onbrand: { variables: { brand: 'A' } },
      },
    })
    const body = await json(res)
    expect(body.onbrand.generationId).toBe(body.onbrand.id)
    expect((await feedback(body.onbrand.generationId, { rating: 'up' })).status).toBe(200)
  })
})

describe('POST /v1/review-queue/claim', () => {
  const claim = (task: string, count: number, key = reviewer) =>
    f.t.request('/v1/review-queue/claim', { method: 'POST', key, json: { task, count } })

  it('hands 20 concurrent reviewers disjoint items, blind', async () => {
    const ids = new Set<string>()
    for (let i = 0; i < 30; i++) ids.add(await generate('race', `race-${i}`))
    const reviewers = await Promise.all(Array.from({ length: 20 }, () => f.t.makeKey(['review'])))
    const answers = await Promise.all(reviewers.map((r) => claim('race', 2, r.key)))
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200))
    const items = (await Promise.all(answers.map(json))).flatMap((a) => a.items)
    const claimed = items.map((item: { generationId: string }) => item.generationId)
    // 20 × 2 asked, 30 available: all 30 handed out, none twice.
    expect(claimed).toHaveLength(30)
    expect(new Set(claimed).size).toBe(30)
    expect(new Set(claimed)).toEqual(ids)
    for (const item of items) {
      const text = JSON.stringify(item)
      expect(text).not.toContain(FOUNDATION)
      expect(text).not.toContain(FINE_TUNED)
      expect(Object.keys(item).sort()).toEqual(
        [
          'conversation',
          'generationId',
          'input',
          'leasedUntil',
          'output',
          'passages',
          'task',
          'variables',
        ].sort(),
      )
      expect(item.conversation.some((m: { role: string }) => m.role === 'system')).toBe(false)
      expect(Date.parse(item.leasedUntil) - Date.now()).toBeGreaterThan(9 * 60_000)
    }
    // Nothing is left for a 21st reviewer while the leases run.
    expect((await json(await claim('race', 5))).items).toEqual([])
  })

  it('samples the route arms evenly and reveals the route only once the reviewer has submitted', async () => {
    for (let i = 0; i < 16; i++) await generate('queue', `arm-${i}`)
    await f.t.flush()
    const arms = await rows(
      `SELECT g.route_arm AS arm, count(*)::int AS n FROM generations g JOIN task_versions v ON v.id = g.task_version_id
       JOIN tasks t ON t.id = v.task_id WHERE t.name = 'queue' GROUP BY 1`,
      [],
    )
    const fewest = Math.min(...arms.map((a) => a.n))
    expect(arms).toHaveLength(2)
    expect(fewest).toBeGreaterThanOrEqual(2)
    const items = (await json(await claim('queue', fewest * 2))).items as { generationId: string }[]
    expect(items).toHaveLength(fewest * 2)
    const taken = await rows('SELECT route_arm AS arm FROM generations WHERE id = ANY ($1::uuid[])', [
      items.map((item) => item.generationId),
    ])
    expect(taken.filter((r) => r.arm === 'fine_tuned')).toHaveLength(fewest)
    expect(taken.filter((r) => r.arm === 'foundation')).toHaveLength(fewest)

    const id = items[0]!.generationId
    const before = await json(await f.t.request(`/v1/generations/${id}`, { key: reviewer }))
    expect(before.route.model).toBeNull()
    expect(before.route.arm).toBeNull()
    expect(before.usage.costUsd).toBeNull()
    expect(before.messages.some((m: { role: string }) => m.role === 'system')).toBe(false)
    expect(JSON.stringify(before)).not.toMatch(/gpt-4o-mini/)
    expect((await f.t.request('/v1/generations?model=gpt-4o-mini', { key: reviewer })).status).toBe(403)
    const submitted = await json(await feedback(id, { approved: true }))
    expect([FOUNDATION, FINE_TUNED]).toContain(submitted.generation.route.model)
    const after = await json(await f.t.request(`/v1/generations/${id}`, { key: reviewer }))
    expect(after.route.model).toBe(submitted.generation.route.model)
    expect(after.messages[0].role).toBe('system')
    // Admins never read blind.
    const admin = await json(
      await f.t.request(`/v1/generations/${items[1]!.generationId}`, { key: f.t.adminKey }),
    )
    expect([FOUNDATION, FINE_TUNED]).toContain(admin.route.model)
  })

  it('gives a reviewer its own leases back, and another reviewer only expired ones', async () => {
    for (let i = 0; i < 3; i++) await generate('copy', `lease-${i}`)
    const a = (await f.t.makeKey(['review'])).key
    const b = (await f.t.makeKey(['review'])).key
    const first = ((await json(await claim('copy', 50, a))).items as { generationId: string }[]).map(
      (i) => i.generationId,
    )
    expect(first.length).toBeGreaterThanOrEqual(3)
    const again = ((await json(await claim('copy', 50, a))).items as { generationId: string }[]).map(
      (i) => i.generationId,
    )
    expect(again.sort()).toEqual([...first].sort())
    expect((await json(await claim('copy', 50, b))).items).toEqual([])
    await f.t.db.pool.query(
      `UPDATE review_leases SET leased_until = now() - interval '1 second' WHERE generation_id = ANY ($1::uuid[])`,
      [first],
    )
    const taken = ((await json(await claim('copy', 50, b))).items as { generationId: string }[]).map(
      (i) => i.generationId,
    )
    expect(taken.sort()).toEqual([...first].sort())
    // Submitting ends the lease; a reviewed item is not handed out again.
    await feedback(taken[0]!, { approved: true }, b)
    await f.t.db.pool.query('DELETE FROM review_leases')
    const left = ((await json(await claim('copy', 50, a))).items as { generationId: string }[]).map(
      (i) => i.generationId,
    )
    expect(left).not.toContain(taken[0])
    expect(left).toHaveLength(taken.length - 1)
  })

  it('answers 404 for an unknown task and refuses a generate key', async () => {
    expect((await claim('no-such-task', 1)).status).toBe(404)
    expect((await claim('copy', 1, generateKey)).status).toBe(403)
  })
})

describe('GET /v1/review-queue', () => {
  const overview = async (key: string) => {
    const res = await f.t.request('/v1/review-queue', { key })
    expect(res.status).toBe(200)
    return (await json(res)) as {
      tasks: { name: string; waiting: number; heldByYou: number }[]
      you: { reviewed: number; approved: number; rejected: number; corrected: number; today: number }
    }
  }
  const tally = async (key: string) => (await overview(key)).tasks.find((t) => t.name === 'tally')

  it('counts per task what a reviewer may claim, and the reviewer’s own verdicts', async () => {
    expect((await f.putTask('tally', textTask())).status).toBe(201)
    const ids = [] as string[]
    for (let i = 0; i < 4; i++) ids.push(await generate('tally', `tally-${i}`))
    const a = (await f.t.makeKey(['review'])).key
    const b = (await f.t.makeKey(['review'])).key
    expect(await tally(a)).toEqual({ name: 'tally', waiting: 4, heldByYou: 0 })
    expect((await overview(a)).you).toEqual({ reviewed: 0, approved: 0, rejected: 0, corrected: 0, today: 0 })

    const claimed = (
      await json(
        await f.t.request('/v1/review-queue/claim', {
          method: 'POST',
          key: a,
          json: { task: 'tally', count: 3 },
        }),
      )
    ).items.map((item: { generationId: string }) => item.generationId) as string[]
    expect(claimed).toHaveLength(3)
    expect(await tally(a)).toEqual({ name: 'tally', waiting: 1, heldByYou: 3 })
    // Another reviewer cannot claim what a holds.
    expect(await tally(b)).toEqual({ name: 'tally', waiting: 1, heldByYou: 0 })

    await feedback(claimed[0]!, { approved: true }, a)
    await feedback(claimed[1]!, { approved: false }, a)
    await feedback(claimed[2]!, { approved: false, correctedOutput: 'Better copy.' }, a)
    // A rating alone is not a verdict.
    const unclaimed = ids.find((id) => !claimed.includes(id))!
    await feedback(unclaimed, { rating: 4 }, b)
    expect((await overview(a)).you).toEqual({ reviewed: 3, approved: 1, rejected: 1, corrected: 1, today: 3 })
    expect((await overview(b)).you).toEqual({ reviewed: 0, approved: 0, rejected: 0, corrected: 0, today: 0 })
    // Reviewed items leave everyone's queue; the one b rated stays in a's, not in b's.
    expect(await tally(a)).toEqual({ name: 'tally', waiting: 1, heldByYou: 0 })
    expect(await tally(b)).toBeUndefined()
    // A verdict changed to another one moves between the counts, never double-counts.
    await feedback(claimed[1]!, { approved: true }, a)
    expect((await overview(a)).you).toMatchObject({ reviewed: 3, approved: 2, rejected: 0, corrected: 1 })
  })

  it('honours the collection allowlist and refuses a generate key', async () => {
    const elsewhere = (await f.t.makeKey(['review'], ['other'])).key
    expect(await tally(elsewhere)).toBeUndefined()
    const inside = (await f.t.makeKey(['review'], ['brand'])).key
    expect(await tally(inside)).toMatchObject({ waiting: 1 })
    expect((await f.t.request('/v1/review-queue', { key: generateKey })).status).toBe(403)
  })
})
