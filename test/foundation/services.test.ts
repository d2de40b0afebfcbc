import { afterEach, describe, expect, it } from 'vitest'
import type { ChatModel } from '../../src/generation/chat-model.js'
import { putTask } from '../../src/tasks/manage-tasks.js'
import { TaskDefinition } from '../../src/tasks/task-definition.js'
import { createTestApp, json, type TestApp } from '../support/test-app.js'

let t: TestApp | undefined
afterEach(async () => {
  await t?.close()
  t = undefined
})

const task = (systemPrompt: string) =>
  TaskDefinition.parse({ systemPrompt, route: { strategy: 'foundation', foundationModel: 'gpt-4o-mini' } })

describe('the services an app is built from', () => {
  it('generate with the chat models a test hands in, for every route that generates', async () => {
    const seen: string[] = []
    const model: ChatModel = {
      id: 'gpt-4o-mini',
      complete: async (messages) => {
        seen.push(messages[0]!.content)
        return { text: 'From the double.', usage: { promptTokens: 7, completionTokens: 3 } }
      },
      async *stream() {
        yield { type: 'delta', text: 'From the double.' }
      },
    }
    t = await createTestApp({ OPENAI_API_KEY: 'unused' }, { chatModels: () => model })
    expect(
      (await t.request('/v1/tasks/hello', { method: 'PUT', key: t.adminKey, json: task('Say hi.') })).status,
    ).toBe(201)
    const generated = await t.request('/v1/generate', {
      method: 'POST',
      key: t.adminKey,
      json: { task: 'hello', input: 'hi' },
    })
    expect((await json(generated)).output).toBe('From the double.')
    const chat = await t.request('/v1/chat/completions', {
      method: 'POST',
      key: t.adminKey,
      json: { model: 'hello', messages: [{ role: 'user', content: 'hi' }] },
    })
    expect((await json(chat)).choices[0].message.content).toBe('From the double.')
    expect(seen).toEqual(['Say hi.', 'Say hi.'])
  })

  it('read time from the clock a test hands in: a cached task version lasts until that clock passes its TTL', async () => {
    let clock = 1_000_000
    t = await createTestApp({ TASK_CACHE_TTL_MS: '60000' }, { now: () => clock })
    await putTask(t.db.pool, { models: t.services.models, name: 'cached', definition: task('First.') })
    expect((await t.services.tasks.get('cached'))?.systemPrompt).toBe('First.')
    // Changed behind the cache's back, as another instance would.
    await putTask(t.db.pool, { models: t.services.models, name: 'cached', definition: task('Second.') })
    clock += 59_000
    expect((await t.services.tasks.get('cached'))?.systemPrompt).toBe('First.')
    clock += 2000
    expect((await t.services.tasks.get('cached'))?.systemPrompt).toBe('Second.')
  })
})
