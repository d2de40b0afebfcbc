import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  createGenerationFixture,
  FINE_TUNED,
  FOUNDATION,
  type GenerationFixture,
  textTask,
} from '../generation/generation-fixture.js'
import { json } from '../support/test-app.js'

let f: GenerationFixture
const SHORT = 'On brand for {{brand}}.\n\n{{context}}'
const fineTuned = {
  strategy: 'fine_tuned',
  foundationModel: FOUNDATION,
  fineTunedModel: FINE_TUNED,
  fineTunedSystemPrompt: SHORT,
}

beforeAll(async () => {
  f = await createGenerationFixture()
  expect((await f.putTask('hybrid', textTask({ route: fineTuned }))).status).toBe(201)
  expect(
    (await f.putTask('hybrid-foundation', textTask({ route: { ...fineTuned, strategy: 'foundation' } })))
      .status,
  ).toBe(201)
})
afterAll(async () => f?.close())
beforeEach(() => f.stub.reset())

const request = (task: string, extra: Record<string, unknown> = {}) =>
  f.generate({ task, input: 'Trailblazer tent', variables: { brand: 'Acme' }, ...extra })

describe('route.fineTunedSystemPrompt', () => {
  it('renders the shorter template, with the passages, for the fine-tuned model, and dryRun says so', async () => {
    const dry = await json(await request('hybrid', { dryRun: true }))
    expect(dry.route.template).toBe('fine_tuned')
    expect(dry.messages[0].content.startsWith('On brand for Acme.')).toBe(true)
    expect(dry.messages[0].content).toContain('<reference_data>')
    const foundationDry = await json(await request('hybrid-foundation', { dryRun: true }))
    expect(foundationDry.route.template).toBe('foundation')
    expect(foundationDry.messages[0].content.startsWith('You write product copy for Acme.')).toBe(true)

    const res = await request('hybrid')
    expect(res.status).toBe(200)
    const sent = f.chatBodies()[0]!.messages as { content: string }[]
    expect(sent[0]!.content.startsWith('On brand for Acme.')).toBe(true)
    const stored = await json(
      await f.t.request(`/v1/generations/${(await json(res)).id}`, { key: f.t.adminKey }),
    )
    expect(stored.route.template).toBe('fine_tuned')
    expect(stored.messages).toEqual(sent)
  })

  it('gives the foundation fallback the full template, and logs what the answering model was sent', async () => {
    f.stub.failNext({ path: 'chat', status: 500 })
    const res = await request('hybrid')
    expect(res.status).toBe(200)
    const [first, second] = f.chatBodies() as { model: string; messages: { content: string }[] }[]
    expect(first!.model).toBe(FINE_TUNED)
    expect(first!.messages[0]!.content.startsWith('On brand for Acme.')).toBe(true)
    expect(second!.model).toBe(FOUNDATION)
    expect(second!.messages[0]!.content.startsWith('You write product copy for Acme.')).toBe(true)
    const stored = await json(
      await f.t.request(`/v1/generations/${(await json(res)).id}`, { key: f.t.adminKey }),
    )
    expect(stored.route).toMatchObject({
      model: FOUNDATION,
      arm: 'fine_tuned',
      fellBack: true,
      template: 'foundation',
    })
    expect(stored.messages).toEqual(second!.messages)
  })

  it('refuses a fine-tuned template that uses a variable the system prompt does not declare', async () => {
    const res = await f.putTask(
      'hybrid-bad',
      textTask({
        route: { ...fineTuned, fineTunedSystemPrompt: 'For {{brand}} in {{region}}.\n{{context}}' },
      }),
    )
    expect(res.status).toBe(400)
    expect(JSON.stringify(await json(res))).toContain('region')
  })
})
