import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { json } from '../support/test-app.js'
import { lowercaseRun } from '../tokens/hostile-text.js'
import { createGenerationFixture, type GenerationFixture, textTask } from './generation-fixture.js'

/**
 * Issue #11 item 8: one request holding a megabyte-long word froze /healthz for minutes. Token counting
 * on the request path must be linear and must not hold the event loop: while such a request is counted,
 * the health probe keeps being answered. The assertion is relative (the slowest probe against the
 * request's own duration, in the same run), not a speed target.
 */

const MEGABYTE_WORD = lowercaseRun(1_000_000, 11)

let f: GenerationFixture
let base: string

beforeAll(async () => {
  f = await createGenerationFixture({
    MAX_BODY_BYTES: String(2 * 1024 * 1024),
    MAX_GENERATION_INPUT_CHARS: '1000000',
  })
  await f.putTask('copy', textTask({ systemPrompt: 'You write copy.\n{{context}}' }))
  base = await f.listen()
}, 120_000)
afterAll(async () => f?.close())

/** Send `request` and probe /healthz back to back until it answers; each probe's round trip is kept. */
async function probeDuring(request: () => Promise<Response>) {
  const probes: number[] = []
  let done = false
  const started = performance.now()
  const answer = request().finally(() => {
    done = true
  })
  const probing = (async () => {
    while (!done) {
      const sent = performance.now()
      const res = await fetch(`${base}/healthz`)
      await res.arrayBuffer()
      expect(res.status).toBe(200)
      probes.push(performance.now() - sent)
    }
  })()
  const res = await answer
  const requestMs = performance.now() - started
  await probing
  return { res, requestMs, probes }
}

function expectResponsive({ requestMs, probes }: { requestMs: number; probes: number[] }) {
  // Counting a megabyte takes many slices; the probe must get through between them, many times over.
  expect(probes.length).toBeGreaterThanOrEqual(10)
  // One probe early on waits for the one synchronous step, reading and parsing the megabyte body: about a
  // sixth of the request alone, up to 0.3 of it while the other test worker competes for the CPU. A count
  // that held the loop would hold a probe for nearly the whole request (it froze /healthz for minutes).
  expect(Math.max(...probes)).toBeLessThan(requestMs / 2)
}

describe('a megabyte-long word on the request path', () => {
  it('in a chat conversation: counted (413, too large for the window) while /healthz keeps answering', async () => {
    const run = await probeDuring(() =>
      fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${f.t.adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'copy',
          messages: [
            { role: 'user', content: MEGABYTE_WORD },
            { role: 'user', content: 'Trailblazer tent' },
          ],
        }),
      }),
    )
    expect(run.res.status).toBe(413)
    expect((await json(run.res)).detail).toMatch(/need about \d+ tokens/)
    expectResponsive(run)
  }, 120_000)

  it('as a dryRun input: the same', async () => {
    const run = await probeDuring(() =>
      fetch(`${base}/v1/generate`, {
        method: 'POST',
        headers: { authorization: `Bearer ${f.t.adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ task: 'copy', input: MEGABYTE_WORD, dryRun: true }),
      }),
    )
    expect(run.res.status).toBe(413)
    expectResponsive(run)
  }, 120_000)
})
