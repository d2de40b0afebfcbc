import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createGenerationFixture,
  FINE_TUNED,
  FOUNDATION,
  type GenerationFixture,
  textTask,
} from '../generation/generation-fixture.js'
import { json } from '../support/test-app.js'

const GOOD = 'Acme Trailblazer tent, waterproof and light [1].'
const GOOD_TOO = 'Acme tent: sleeps two, weighs 1.8 kg [1].'
const BAD = 'A light tent.'
let f: GenerationFixture
let setId = ''

const post = (path: string, body: unknown) =>
  f.t.request(path, { method: 'POST', key: f.t.adminKey, json: body })
const get = async (path: string) => json(await f.t.request(path, { key: f.t.adminKey }))

/** Run the set with an arm on each model and let a worker finish it. */
async function evaluate(): Promise<string> {
  const res = await post('/v1/eval-runs', {
    evalSetId: setId,
    arms: [
      { name: 'active', model: FOUNDATION },
      { name: 'tuned', model: FINE_TUNED },
    ],
  })
  expect(res.status).toBe(202)
  const { id, jobId } = await json(res)
  await f.workOn(jobId).done
  return id
}

const promote = (body: Record<string, unknown>) => post('/v1/tasks/promo/promote', body)

beforeAll(async () => {
  f = await createGenerationFixture({ MODEL_TIMEOUT_MS: '15000', PROMOTION_MARGIN: '0.1' })
  expect((await f.putTask('promo', textTask())).status).toBe(201)
  const cases = ['one', 'two', 'three', 'four', 'five'].map((n) => ({
    input: `Case ${n}: tent copy`,
    variables: { brand: 'Acme' },
  }))
  const set = await json(
    await post('/v1/eval-sets', {
      task: 'promo',
      name: 'copy',
      cases,
      checks: [{ type: 'icontains', value: 'acme' }],
    }),
  )
  setId = set.id
  f.stub.setReply(FOUNDATION, GOOD)
}, 120_000)
afterAll(async () => f?.close())

describe('POST /v1/tasks/{name}/promote', () => {
  it('refuses without an evaluation comparing the model with the active one, unless forced', async () => {
    const res = await promote({ model: FINE_TUNED, strategy: 'fine_tuned' })
    expect(res.status).toBe(409)
    expect((await json(res)).detail).toMatch(
      new RegExp(
        `No finished evaluation run of this task compares ${FINE_TUNED} with the active ${FOUNDATION}`,
      ),
    )
    expect((await get('/v1/tasks/promo')).version).toBe(1)
  })

  it('refuses with the numbers when the latest evaluation says the model loses by more than the margin', async () => {
    f.stub.setReply(FINE_TUNED, BAD)
    const runId = await evaluate()
    const res = await promote({ model: FINE_TUNED, strategy: 'fine_tuned' })
    expect(res.status).toBe(409)
    const { detail } = await json(res)
    expect(detail).toContain(`In evaluation run ${runId}, ${FINE_TUNED} passed every check in 0% (0/5`)
    expect(detail).toContain(`the active ${FOUNDATION} in 100% (5/5`)
    expect(detail).toContain('the margin is 10%')
    expect(detail).toContain('loses')
  })

  it('promotes when the latest evaluation says it holds up, recording who, when and the evidence; rollback undoes it', async () => {
    f.stub.setReply(FINE_TUNED, GOOD_TOO)
    const runId = await evaluate()
    const res = await promote({ model: FINE_TUNED, strategy: 'fine_tuned', reason: 'evaluated' })
    expect(res.status).toBe(201)
    const { promotion, version } = await json(res)
    expect(version).toMatchObject({
      active: true,
      definition: { route: { strategy: 'fine_tuned', fineTunedModel: FINE_TUNED } },
    })
    expect(promotion).toMatchObject({
      action: 'promote',
      model: FINE_TUNED,
      strategy: 'fine_tuned',
      fromVersion: 1,
      toVersion: version.version,
      forced: false,
      reason: 'evaluated',
      evidence: {
        verdict: 'ties',
        runId,
        margin: 0.1,
        candidate: { model: FINE_TUNED, passAll: { rate: 1, passed: 5, decided: 5 } },
        active: { model: FOUNDATION, passAll: { rate: 1 } },
      },
    })
    expect(promotion.createdBy).toBeTruthy()
    const served = await json(
      await f.generate({ task: 'promo', input: 'tent', variables: { brand: 'Acme' } }),
    )
    expect(served.route.model).toBe(FINE_TUNED)

    const rolled = await post('/v1/tasks/promo/rollback', {})
    expect(rolled.status).toBe(200)
    expect((await json(rolled)).version).toBe(1)
    const history = (await get('/v1/tasks/promo/promotions')).data
    expect(history.map((p: { action: string }) => p.action)).toEqual(['rollback', 'promote'])
    expect(history[0]).toMatchObject({ fromVersion: version.version, toVersion: 1, model: FOUNDATION })
  })

  it('promotes against the evidence only when forced, and records it as forced', async () => {
    f.stub.setReply(FINE_TUNED, BAD)
    await evaluate()
    expect((await promote({ model: FINE_TUNED, strategy: 'split', share: 0.5 })).status).toBe(409)
    const res = await promote({ model: FINE_TUNED, strategy: 'split', share: 0.5, force: true })
    expect(res.status).toBe(201)
    const { promotion } = await json(res)
    expect(promotion).toMatchObject({ forced: true, strategy: 'split', evidence: { verdict: 'loses' } })
    expect((await promote({ model: 'not-registered', strategy: 'fine_tuned', force: true })).status).toBe(400)
    expect((await promote({ model: FINE_TUNED, strategy: 'split' })).status).toBe(400)
  })
})
