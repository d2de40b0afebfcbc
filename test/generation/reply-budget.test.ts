import OpenAI, { APIError } from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { json } from '../support/test-app.js'
import { createGenerationFixture, type GenerationFixture, textTask } from './generation-fixture.js'

/** Reply-token budgets that cannot be honoured are the caller's (or the task's) to fix: a 4xx naming the setting. */

let f: GenerationFixture
let client: OpenAI
const messages = [{ role: 'user' as const, content: 'Trailblazer tent' }]

beforeAll(async () => {
  // The registry's window for the task's model (the catalog says 128k for gpt-4o-mini).
  f = await createGenerationFixture({
    MODELS_JSON: JSON.stringify({ models: { 'gpt-4o-mini': { contextWindow: 8192 } } }),
  })
  await f.putTask('copy', textTask({ systemPrompt: 'You write copy.\n{{context}}' }))
  await f.putTask('greedy', textTask({ systemPrompt: 'You write copy.\n{{context}}', maxTokens: 100_000 }))
  client = new OpenAI({ apiKey: f.t.adminKey, baseURL: `${await f.listen()}/v1`, maxRetries: 0 })
})
afterAll(async () => f?.close())

async function refusal(extra: Record<string, unknown>): Promise<APIError> {
  const error = await client.chat.completions.create({ model: 'copy', messages, ...extra } as never).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(APIError)
  return error as APIError
}

describe('max_tokens on /v1/chat/completions', () => {
  it.each([
    ['max_tokens', 1e15],
    ['max_tokens', 2 ** 53],
    ['max_tokens', -5],
    ['max_tokens', 0],
    ['max_tokens', 1.5],
    ['max_tokens', '400'],
    ['max_completion_tokens', 1e15],
  ])('refuses %s: %s with 400 naming the field', async (field, value) => {
    const error = await refusal({ [field]: value })
    expect(error.status).toBe(400)
    expect(error.param).toBe(field)
    expect(error.message).toContain(`${field}: `)
    expect(error.message).not.toMatch(/\s-\d/)
    expect(f.chatBodies()).toHaveLength(0)
  })

  it('says that a budget over the context window leaves the prompt no room (400, not 413)', async () => {
    const error = await refusal({ max_tokens: 9000 })
    expect(error.status).toBe(400)
    expect(error.param).toBe('max_tokens')
    expect(error.message).toContain('max_tokens: 9000 leaves no room')
    expect(error.message).toContain('8192')
    expect(error.message).not.toMatch(/\s-\d/)
  })
})

describe("a task's maxTokens on /v1/generate", () => {
  it('is a 400 naming the task setting when it leaves the prompt no room, dryRun or not', async () => {
    for (const dryRun of [true, false]) {
      const res = await f.generate({ task: 'greedy', input: 'Trailblazer tent', dryRun })
      expect(res.status).toBe(400)
      const body = await json(res)
      expect(body.detail).toContain("Task greedy's maxTokens (100000) leaves no room")
      expect(body.detail).not.toMatch(/\s-\d/)
    }
    expect(f.chatBodies()).toHaveLength(0)
  })

  it('still runs a task whose budget fits', async () => {
    const res = await f.generate({ task: 'copy', input: 'Trailblazer tent', dryRun: true })
    expect(res.status).toBe(200)
  })
})
