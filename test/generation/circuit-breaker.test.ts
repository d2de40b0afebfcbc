import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { json } from '../support/test-app.js'
import {
  createGenerationFixture,
  FINE_TUNED,
  FOUNDATION,
  type GenerationFixture,
  parseSSE,
  textTask,
} from './generation-fixture.js'

/**
 * The circuit breaker through the real request path: a fine-tuned model that keeps failing is skipped
 * (no call at all) while its breaker is open, so requests go straight to the foundation model; after
 * the cool-down one trial call decides whether it comes back.
 */
const COOL_DOWN_MS = 30_000
// The services' clock: the cool-down passes when the test says so, however slow the machine.
let clock = Date.now()
let f: GenerationFixture
const request = { task: 'copy-ft', input: 'Trailblazer tent', variables: { brand: 'Acme' } }

beforeAll(async () => {
  f = await createGenerationFixture(
    { MODEL_BREAKER_FAILURES: '2', MODEL_BREAKER_COOLDOWN_MS: String(COOL_DOWN_MS) },
    { now: () => clock },
  )
  const route = { strategy: 'fine_tuned', foundationModel: FOUNDATION, fineTunedModel: FINE_TUNED }
  expect((await f.putTask('copy-ft', textTask({ route }))).status).toBe(201)
})
afterAll(async () => f?.close())

const fineTunedCalls = () => f.chatBodies().filter((body) => body.model === FINE_TUNED).length

async function generate(stream = false) {
  const res = await f.generate({ ...request, ...(stream ? { stream: true } : {}) })
  expect(res.status).toBe(200)
  if (!stream) return (await json(res)).route
  const meta = parseSSE(await res.text()).find((event) => event.event === 'meta')
  return JSON.parse(meta?.data ?? '{}').route
}

describe('the circuit breaker per model', () => {
  it('skips a failing fine-tuned model for the cool-down, then lets one trial decide', async () => {
    expect(await generate()).toMatchObject({ model: FINE_TUNED, fellBack: false })
    f.stub.setModelDown(FINE_TUNED, 503)
    // Two failures in a row: each request still tries the fine-tuned model first.
    for (let i = 0; i < 2; i++) {
      const route = await generate()
      expect(route).toMatchObject({ model: FOUNDATION, fellBack: true })
      expect(route.reason).toContain('HTTP 503')
    }
    expect(fineTunedCalls()).toBe(3)
    // Open: straight to the foundation model, streaming or not, with no call to the failing one.
    for (const stream of [false, true, false]) {
      const route = await generate(stream)
      expect(route).toMatchObject({ model: FOUNDATION, fellBack: true })
      expect(route.reason).toContain('circuit open')
    }
    expect(fineTunedCalls()).toBe(3)
    const metrics = await (await f.t.request('/metrics', { key: f.t.adminKey })).text()
    expect(metrics).toContain(`onbrand_model_breaker_changes_total{model="${FINE_TUNED}",state="open"} 1`)

    // After the cool-down, a trial that fails opens it again at once.
    clock += COOL_DOWN_MS
    expect((await generate()).reason).toContain('HTTP 503')
    expect(fineTunedCalls()).toBe(4)
    expect((await generate()).reason).toContain('circuit open')
    expect(fineTunedCalls()).toBe(4)

    // The model is back: the next trial closes the breaker and the fine-tuned arm serves again.
    f.stub.setModelUp(FINE_TUNED)
    clock += COOL_DOWN_MS
    expect(await generate()).toMatchObject({ model: FINE_TUNED, fellBack: false })
    expect(await generate(true)).toMatchObject({ model: FINE_TUNED, fellBack: false })
    expect(fineTunedCalls()).toBe(6)
    const after = await (await f.t.request('/metrics', { key: f.t.adminKey })).text()
    expect(after).toContain(`onbrand_model_breaker_changes_total{model="${FINE_TUNED}",state="closed"} 1`)
  })

  it('never skips a model with no fallback to go to', async () => {
    const route = { strategy: 'foundation', foundationModel: FINE_TUNED }
    expect((await f.putTask('ft-only', textTask({ route }))).status).toBe(201)
    f.stub.setModelDown(FINE_TUNED, 503)
    const before = fineTunedCalls()
    for (let i = 0; i < 4; i++) {
      const res = await f.generate({ ...request, task: 'ft-only' })
      expect(res.status).toBe(502)
    }
    expect(fineTunedCalls()).toBe(before + 4)
    f.stub.setModelUp(FINE_TUNED)
  })
})
