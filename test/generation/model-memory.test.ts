import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { OpenAIChatModel } from '../../src/generation/openai-chat-model.js'
import { linkedAbort } from '../../src/lib/abort.js'
import { type OpenAIStub, startOpenAIStub } from '../support/openai-stub.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/**
 * Heap held after full collections, in bytes. Between collections the finalizers run (undici lets go
 * of a request's signal listener from a FinalizationRegistry callback, after a collection).
 */
async function heldHeap(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc()
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  gc()
  return process.memoryUsage().heapUsed
}

let stub: OpenAIStub
beforeAll(async () => {
  stub = await startOpenAIStub({ recordCalls: false })
})
afterAll(async () => stub?.close())

describe('memory a model call leaves behind', { timeout: 120_000 }, () => {
  it('does not grow with the number of calls (AbortSignal.any kept about 2.5 KB a call on Node 20)', async () => {
    const model = new OpenAIChatModel(
      { id: 'gpt-test', baseURL: stub.url, apiKey: 'test', contextWindow: 128_000 },
      { timeoutMs: 5000, streamTimeoutMs: 5000, maxRetries: 0 },
    )
    const call = async () => {
      // As a route passes it: the request's own signal, a plain one, gone with the request.
      const request = new AbortController()
      await model.complete([{ role: 'user', content: 'hi' }], { signal: request.signal })
    }
    // The first calls compile code and fill caches; the slope after them is what each call keeps.
    for (let i = 0; i < 1000; i++) await call()
    const before = await heldHeap()
    const calls = 2500
    for (let i = 0; i < calls; i++) await call()
    const perCall = ((await heldHeap()) - before) / calls
    expect(perCall).toBeLessThan(500)
  })

  it('a linked signal aborts with any source, with its reason, and lets go of the sources when disposed', () => {
    const a = new AbortController()
    const b = new AbortController()
    const linked = linkedAbort([a.signal, undefined, b.signal])
    b.abort(new Error('deadline'))
    expect(linked.signal.aborted).toBe(true)
    expect((linked.signal.reason as Error).message).toBe('deadline')

    const c = new AbortController()
    const disposed = linkedAbort([c.signal])
    disposed.dispose()
    c.abort()
    expect(disposed.signal.aborted).toBe(false)

    const already = linkedAbort([AbortSignal.abort('gone')])
    expect(already.signal.reason).toBe('gone')
  })
})
