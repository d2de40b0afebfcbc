import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { claimForEvaluation, insertDataset, insertExamples } from '../../src/db/datasets.js'
import { withTransaction } from '../../src/db/transaction.js'
import {
  createGenerationFixture,
  FOUNDATION,
  type GenerationFixture,
  textTask,
} from '../generation/generation-fixture.js'
import { json } from '../support/test-app.js'

let f: GenerationFixture
const ids: string[] = []
let trainingIds: string[] = []
let corrected = ''

const review = (id: string, body: unknown) =>
  f.t.request(`/v1/generations/${id}/feedback`, { method: 'PUT', key: f.t.adminKey, json: body })
const createSet = (body: Record<string, unknown>, key = f.t.adminKey) =>
  f.t.request('/v1/eval-sets', { method: 'POST', key, json: body })

beforeAll(async () => {
  // A generation that timed out under a loaded machine could not be reviewed: give the model time.
  f = await createGenerationFixture({ MODEL_TIMEOUT_MS: '15000' })
  expect((await f.putTask('evs', textTask())).status).toBe(201)
  for (let i = 0; i < 16; i++) {
    f.stub.setReply(FOUNDATION, `Line ${i} [1].`)
    const res = await f.generate({
      task: 'evs',
      input: `Brief ${i}`,
      variables: { brand: 'Acme' },
      subject: `s${i}`,
    })
    ids.push((await json(res)).id)
  }
  await f.t.flush()
  // 8 approved and trained on by a dataset; then 4 more approved (one corrected), 2 rejected, 2 never reviewed.
  for (const id of ids.slice(0, 8)) expect((await review(id, { approved: true })).status).toBe(200)
  const built = await f.t.request('/v1/tasks/evs/datasets', { method: 'POST', key: f.t.adminKey, json: {} })
  expect(built.status).toBe(201)
  const manifest = await f.t.request(`/v1/datasets/${(await json(built)).id}/manifest.jsonl`, {
    key: f.t.adminKey,
  })
  trainingIds = (await manifest.text())
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line).generationId)
  for (const id of ids.slice(8, 12)) expect((await review(id, { approved: true })).status).toBe(200)
  for (const id of ids.slice(12, 14)) expect((await review(id, { approved: false })).status).toBe(200)
  corrected = ids[9]!
  expect((await review(corrected, { correctedOutput: 'A better line [1].' })).status).toBe(200)
}, 180_000)
afterAll(async () => f?.close())

describe('POST /v1/eval-sets from uploaded cases', () => {
  it('freezes JSONL cases with their checks and the shared ones, and a second post makes version 2', async () => {
    const jsonl = [
      JSON.stringify({
        input: 'Tent copy',
        variables: { brand: 'Acme' },
        reference: 'A tent.',
        checks: [{ type: 'contains', value: 'tent' }],
      }),
      '',
      JSON.stringify({
        input: 'Stove copy',
        subject: 'u1',
        checks: [{ type: 'max-length', value: 80, unit: 'words' }],
      }),
    ].join('\n')
    const res = await createSet({ task: 'evs', name: 'smoke', jsonl, checks: [{ type: 'citations-valid' }] })
    expect(res.status).toBe(201)
    const set = await json(res)
    expect(set).toMatchObject({ task: 'evs', name: 'smoke', version: 1, source: 'upload', caseCount: 2 })
    expect(set.cases[0]).toMatchObject({
      ordinal: 1,
      input: 'Tent copy',
      variables: { brand: 'Acme' },
      reference: 'A tent.',
      checks: [{ type: 'citations-valid' }, { type: 'contains', value: 'tent' }],
      generationId: null,
    })
    expect(set.cases[1].checks[1]).toEqual({ type: 'max-length', value: 80, unit: 'words' })
    const again = await json(
      await createSet({ task: 'evs', name: 'smoke', jsonl, checks: [{ type: 'citations-valid' }] }),
    )
    expect(again.version).toBe(2)
    expect(again.contentHash).toBe(set.contentHash)
    const read = await json(await f.t.request(`/v1/eval-sets/${set.id}`, { key: f.t.adminKey }))
    expect(read).toEqual(set)
  })

  it('names every bad JSONL line and refuses unknown check types', async () => {
    const jsonl = [
      '{"input": "ok"}',
      'not json',
      '{"input": ""}',
      '{"input": "x", "checks": [{"type": "vibes"}]}',
    ].join('\n')
    const res = await createSet({ task: 'evs', name: 'bad', jsonl })
    expect(res.status).toBe(400)
    const paths = (await json(res)).errors.map((e: { path: string }) => e.path)
    expect(paths).toContain('jsonl:2')
    expect(paths.some((p: string) => p.startsWith('jsonl:3'))).toBe(true)
    expect(paths.some((p: string) => p.startsWith('jsonl:4'))).toBe(true)
    expect(paths.some((p: string) => p.startsWith('jsonl:1'))).toBe(false)
    const bothSources = await createSet({
      task: 'evs',
      name: 'bad',
      cases: [{ input: 'a' }],
      sample: { count: 1 },
    })
    expect(bothSources.status).toBe(400)
    const badRegex = await createSet({
      task: 'evs',
      name: 'bad',
      cases: [{ input: 'a', checks: [{ type: 'regex', pattern: 'a', flags: 'g' }] }],
    })
    expect(badRegex.status).toBe(400)
  })

  it('answers 404 for an unknown task or set, and for a task outside a limited key’s collections', async () => {
    expect((await createSet({ task: 'nope', name: 'x', cases: [{ input: 'a' }] })).status).toBe(404)
    expect(
      (await f.t.request('/v1/eval-sets/00000000-0000-4000-8000-000000000000', { key: f.t.adminKey })).status,
    ).toBe(404)
    const set = await json(await createSet({ task: 'evs', name: 'scoped', cases: [{ input: 'a' }] }))
    const limited = await f.t.makeKey(['admin'], ['elsewhere'])
    expect((await f.t.request(`/v1/eval-sets/${set.id}`, { key: limited.key })).status).toBe(404)
    expect((await createSet({ task: 'evs', name: 'x', cases: [{ input: 'a' }] }, limited.key)).status).toBe(
      404,
    )
    const generateOnly = await f.t.makeKey(['generate'])
    expect((await f.t.request(`/v1/eval-sets/${set.id}`, { key: generateOnly.key })).status).toBe(403)
    expect((await f.t.request('/v1/eval-sets?task=evs', { key: limited.key })).status).toBe(404)
    expect((await f.t.request('/v1/eval-sets?task=evs', { key: generateOnly.key })).status).toBe(403)
  })

  it('lists a task’s sets newest first, without their cases', async () => {
    const first = await json(await createSet({ task: 'evs', name: 'listed', cases: [{ input: 'a' }] }))
    const second = await json(
      await createSet({ task: 'evs', name: 'listed', cases: [{ input: 'a' }, { input: 'b' }] }),
    )
    const res = await f.t.request('/v1/eval-sets?task=evs&limit=2', { key: f.t.adminKey })
    expect(res.status).toBe(200)
    const { data } = await json(res)
    expect(data.map((s: { id: string }) => s.id)).toEqual([second.id, first.id])
    expect(data[0]).toMatchObject({ task: 'evs', name: 'listed', version: 2, caseCount: 2, source: 'upload' })
    expect(data[0].cases).toBeUndefined()
    expect((await f.t.request('/v1/eval-sets?task=nope', { key: f.t.adminKey })).status).toBe(404)
    expect((await f.t.request('/v1/eval-sets', { key: f.t.adminKey })).status).toBe(400)
  })

  it('is frozen: the database refuses to change a set or its cases', async () => {
    const set = await json(await createSet({ task: 'evs', name: 'frozen', cases: [{ input: 'a' }] }))
    await expect(
      f.t.db.pool.query("UPDATE eval_cases SET input = 'b' WHERE eval_set_id = $1", [set.id]),
    ).rejects.toThrow(/frozen/)
    await expect(
      f.t.db.pool.query("UPDATE eval_sets SET name = 'other' WHERE id = $1", [set.id]),
    ).rejects.toThrow(/frozen/)
  })
})

describe('POST /v1/eval-sets sampled from reviewed generations', () => {
  it('samples only approved or corrected generations no dataset trained on, the correction as reference', async () => {
    expect(trainingIds.length).toBeGreaterThan(0)
    const res = await createSet({ task: 'evs', name: 'sampled', sample: { count: 100, seed: 's' } })
    expect(res.status).toBe(201)
    const set = await json(res)
    const sampled = set.cases.map((c: { generationId: string }) => c.generationId)
    expect(trainingIds.sort()).toEqual(ids.slice(0, 8).sort())
    expect([...sampled].sort()).toEqual(ids.slice(8, 12).sort())
    expect(set.params.sample.available).toBe(4)
    const byId = new Map(set.cases.map((c: { generationId: string }) => [c.generationId, c]))
    expect(byId.get(corrected)).toMatchObject({
      reference: 'A better line [1].',
      subject: 's9',
      input: 'Brief 9',
    })
    expect(byId.get(ids[8]!)).toMatchObject({ reference: 'Line 8 [1].', variables: { brand: 'Acme' } })
    // The same seed samples the same cases.
    const again = await json(
      await createSet({ task: 'evs', name: 'sampled', sample: { count: 2, seed: 's' } }),
    )
    expect(again.cases.map((c: { generationId: string }) => c.generationId)).toEqual(sampled.slice(0, 2))
  })

  it('keeps evaluation and training apart both ways, whichever comes first', async () => {
    // Fresh approved generations nobody has used yet.
    const fresh: string[] = []
    for (let i = 0; i < 6; i++) {
      const res = await f.generate({ task: 'evs', input: `Fresh ${i}`, variables: { brand: 'Acme' } })
      fresh.push((await json(res)).id)
    }
    await f.t.flush()
    for (const id of fresh) {
      const res = await review(id, { approved: true })
      expect(res.status, await res.clone().text()).toBe(200)
    }
    await review(fresh[0]!, { correctedOutput: 'Corrected fresh [1].' })
    const set = await json(await createSet({ task: 'evs', name: 'fresh', sample: { count: 3, seed: 'x' } }))
    expect(set.caseCount).toBe(3)
    const evalIds = set.cases.map((c: { generationId: string }) => c.generationId)
    // A dataset built now leaves the evaluation cases out.
    const built = await json(
      await f.t.request('/v1/tasks/evs/datasets', {
        method: 'POST',
        key: f.t.adminKey,
        json: { seed: 'later' },
      }),
    )
    const manifest = await (
      await f.t.request(`/v1/datasets/${built.id}/manifest.jsonl`, { key: f.t.adminKey })
    ).text()
    const inDataset = manifest
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).generationId)
    expect(inDataset.filter((id) => evalIds.includes(id))).toEqual([])
    const held = await f.t.db.pool.query<{ id: string }>(
      "SELECT generation_id AS id FROM generation_purposes WHERE purpose = 'evaluation'",
    )
    expect(inDataset.filter((id) => held.rows.some((row) => row.id === id))).toEqual([])
    expect(inDataset.filter((id) => fresh.includes(id)).length).toBe(
      6 - evalIds.filter((id: string) => fresh.includes(id)).length,
    )
    // And a new sample never takes what the dataset trained on.
    const again = await json(
      await createSet({ task: 'evs', name: 'fresh', sample: { count: 100, seed: 'y' } }),
    )
    const againIds = again.cases.map((c: { generationId: string }) => c.generationId)
    expect(againIds.filter((id: string) => inDataset.includes(id))).toEqual([])
    expect(againIds).toEqual(expect.arrayContaining(evalIds))
  })

  it('a dataset that would train on a generation claimed for evaluation while it was built is rolled back', async () => {
    const res = await f.generate({ task: 'evs', input: 'Raced', variables: { brand: 'Acme' } })
    const raced = (await json(res)).id
    await f.t.flush()
    const { rows } = await f.t.db.pool.query('SELECT id FROM tasks WHERE name = $1', ['evs'])
    // After the dataset selected the generation and before it claims it, an evaluation set takes it.
    expect((await claimForEvaluation(f.t.db.pool, [raced], randomUUID())).refused).toEqual([])
    const datasetId = await withTransaction(f.t.db.pool, async (client) => {
      const id = await insertDataset(client, {
        taskId: rows[0].id,
        params: {},
        baseModel: FOUNDATION,
        status: 'not_ready',
        counts: {},
        tokenStats: {},
        report: {},
        createdBy: null,
      })
      const { heldForEvaluation } = await insertExamples(client, id, [
        {
          split: 'train',
          line: 1,
          generationId: raced,
          corrected: false,
          tokens: 1,
          example: {},
          preference: null,
        },
      ])
      expect(heldForEvaluation).toEqual([raced])
      return id
    })
    expect(datasetId).toBeTruthy()
    const purpose = await f.t.db.pool.query(
      'SELECT purpose FROM generation_purposes WHERE generation_id = $1',
      [raced],
    )
    expect(purpose.rows).toEqual([{ purpose: 'evaluation' }])
  })

  it('refuses a sample when nothing can be evaluated on', async () => {
    expect((await f.putTask('empty-evs', textTask())).status).toBe(201)
    const res = await createSet({ task: 'empty-evs', name: 'none', sample: { count: 5 } })
    expect(res.status).toBe(400)
  })
})
