import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { toProviderError } from '../../src/embedding/openai-embedder.js'
import { type OpenAIStub, startOpenAIStub } from '../support/openai-stub.js'
import { seedCollection } from '../support/seed-chunks.js'
import { createTestApp, json, type TestApp } from '../support/test-app.js'

let t: TestApp
let stub: OpenAIStub

beforeAll(async () => {
  stub = await startOpenAIStub()
  t = await createTestApp({ OPENAI_BASE_URL: stub.url, OPENAI_API_KEY: 'test', EMBEDDING_TIMEOUT_MS: '500' })
  await seedCollection(t.db.pool, { name: 'brand' }, [
    { sourceId: 'voice.md', chunks: ['Use the active voice. Keep sentences short.'] },
  ])
})
afterAll(async () => {
  await t?.close()
  await stub?.close()
})
beforeEach(() => stub.reset())

// A new query each time: the query embedding cache must not answer for the provider.
let n = 0
const retrieve = () =>
  t.request('/v1/retrieve', {
    method: 'POST',
    key: t.adminKey,
    json: { collection: 'brand', query: `active voice ${++n}` },
  })

describe('embedding failures, as the client hears of them', () => {
  it('says the provider answered with something other than embeddings when the reply is garbage', async () => {
    const garbage = ['<html><body><h1>502 Bad Gateway</h1></body></html>', '{"object": "list", "data": []}']
    for (const body of garbage) {
      stub.failNext({ path: 'embeddings', status: 200, body })
      const res = await retrieve()
      expect(res.status).toBe(502)
      const { detail } = await json(res)
      expect(detail, body).toContain('answered, but not with embeddings')
      expect(detail).not.toMatch(/could not be reached|connection|html|Bad Gateway|position/i)
    }
  })

  it('says how many dimensions came back when a vector has the wrong size', async () => {
    // LangChain asks for base64 and decodes whatever string comes back: here, one float.
    stub.failNext({ path: 'embeddings', status: 200, body: '{"data": [{"embedding": "not a vector"}]}' })
    const res = await retrieve()
    expect(res.status).toBe(502)
    expect((await json(res)).detail).toMatch(/^The embedding model returned 1 dimensions, not \d+\.$/)
  })

  it('tries a dropped connection once more at once; says it could not be reached when that fails too, and times out with 504', async () => {
    const calls = () => stub.calls.filter((c) => c.path === '/v1/embeddings').length
    let before = calls()
    stub.dropNext({ path: 'embeddings' })
    const retried = await retrieve()
    expect(retried.status).toBe(200)
    expect(calls() - before).toBe(2)

    before = calls()
    stub.dropNext({ path: 'embeddings', times: 2 })
    const dropped = await retrieve()
    expect(dropped.status).toBe(502)
    expect((await json(dropped)).detail).toContain('could not be reached')

    stub.hangNext({ path: 'embeddings' })
    const hung = await retrieve()
    expect(hung.status).toBe(504)
    expect((await json(hung)).detail).toContain('timed out')
  })

  it('names the status when the provider answers an error', async () => {
    stub.failNext({ path: 'embeddings', status: 503 })
    const res = await retrieve()
    expect(res.status).toBe(502)
    expect((await json(res)).detail).toContain('HTTP 503')
  })

  it('classifies a reply that is not JSON as a bad reply, retryable, and not as a connection failure', () => {
    const failure = toProviderError(new SyntaxError('Unexpected token < in JSON at position 0'))
    expect(failure.message).toContain('not with embeddings')
    expect(failure.retryable).toBe(true)
    expect(
      toProviderError(new TypeError("Cannot read properties of undefined (reading 'map')")).message,
    ).toContain('not with embeddings')
  })
})
