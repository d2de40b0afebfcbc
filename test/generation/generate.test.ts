import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { json } from '../support/test-app.js'
import {
  createGenerationFixture,
  FINE_TUNED,
  FOUNDATION,
  type GenerationFixture,
  PRICES,
  textTask,
} from './generation-fixture.js'

let f: GenerationFixture

beforeAll(async () => {
  f = await createGenerationFixture()
  expect((await f.putTask('copy', textTask())).status).toBe(201)
  expect(
    (
      await f.putTask(
        'copy-ft',
        textTask({
          route: { strategy: 'fine_tuned', foundationModel: FOUNDATION, fineTunedModel: FINE_TUNED },
        }),
      )
    ).status,
  ).toBe(201)
})
afterAll(async () => f?.close())
beforeEach(() => f.stub.reset())

describe('POST /v1/generate', () => {
  it('answers with output, citations, route, usage, cost and latency on the foundation route', async () => {
    f.stub.setReply(FOUNDATION, 'A waterproof tent for two [1]. Prices include GST [2].')
    const res = await f.generate({
      task: 'copy',
      input: 'Trailblazer tent plain English',
      variables: { brand: 'Acme' },
    })
    expect(res.status).toBe(200)
    const body = await json(res)
    expect(body.output).toBe('A waterproof tent for two [1]. Prices include GST [2].')
    expect(body.route).toMatchObject({ model: FOUNDATION, strategy: 'foundation', fellBack: false })
    expect(body.route.reason).toContain('foundation')
    expect(body.citations.length).toBeGreaterThanOrEqual(2)
    expect(body.citations.filter((c: { cited: boolean }) => c.cited).map((c: { n: number }) => c.n)).toEqual([
      1, 2,
    ])
    expect(body.invalidCitations).toEqual([])
    expect(f.chatBodies()[0]!.model).toBe(FOUNDATION)
    const usage = body.usage
    expect(usage.promptTokens).toBeGreaterThan(0)
    expect(usage.completionTokens).toBeGreaterThan(0)
    const [inPrice, outPrice] = PRICES[FOUNDATION]
    expect(usage.costUsd).toBeCloseTo(
      (usage.promptTokens * inPrice + usage.completionTokens * outPrice) / 1e6,
      8,
    )
    expect(body.latencyMs).toBeGreaterThanOrEqual(0)
  })

  it('sends the system prompt with numbered reference passages first, then the input', async () => {
    await f.generate({ task: 'copy', input: 'Trailblazer tent', variables: { brand: 'Acme' } })
    const messages = f.chatBodies().at(-1)!.messages as { role: string; content: string }[]
    expect(messages.map((m) => m.role)).toEqual(['system', 'user'])
    expect(messages[0]!.content).toContain('You write product copy for Acme.')
    expect(messages[0]!.content).toMatch(/<reference_data>[\s\S]*\[1\] \(source: [\s\S]*<\/reference_data>/)
    expect(messages[1]!.content).toBe('Trailblazer tent')
  })

  it('reports a marker naming no supplied passage as invalid, never as a citation', async () => {
    f.stub.setReply(FOUNDATION, 'Sleeps two [1] and is on sale [9].')
    const body = await json(await f.generate({ task: 'copy', input: 'tent', variables: { brand: 'Acme' } }))
    expect(body.invalidCitations).toEqual([9])
    expect(body.citations.some((c: { n: number }) => c.n === 9)).toBe(false)
    expect(body.citations.find((c: { n: number }) => c.n === 1).cited).toBe(true)
  })

  it('routes fine_tuned tasks to the fine-tuned model', async () => {
    const body = await json(
      await f.generate({ task: 'copy-ft', input: 'tent', variables: { brand: 'Acme' } }),
    )
    expect(body.route).toMatchObject({ model: FINE_TUNED, strategy: 'fine_tuned', fellBack: false })
    expect(f.chatBodies().map((b) => b.model)).toEqual([FINE_TUNED])
  })

  it('falls back to the foundation model when the fine-tuned model answers 500', async () => {
    f.stub.failNext({ path: 'chat', status: 500 })
    const res = await f.generate({ task: 'copy-ft', input: 'tent', variables: { brand: 'Acme' } })
    expect(res.status).toBe(200)
    const body = await json(res)
    expect(body.route).toMatchObject({ model: FOUNDATION, strategy: 'fine_tuned', fellBack: true })
    expect(body.route.reason).toContain('HTTP 500')
    expect(f.chatBodies().map((b) => b.model)).toEqual([FINE_TUNED, FOUNDATION])
    const [inPrice, outPrice] = PRICES[FOUNDATION]
    expect(body.usage.costUsd).toBeCloseTo(
      (body.usage.promptTokens * inPrice + body.usage.completionTokens * outPrice) / 1e6,
      8,
    )
  })

  it('falls back when the fine-tuned model times out', async () => {
    f.stub.hangNext({ path: 'chat' })
    const started = Date.now()
    const body = await json(
      await f.generate({ task: 'copy-ft', input: 'tent', variables: { brand: 'Acme' } }),
    )
    expect(body.route).toMatchObject({ model: FOUNDATION, fellBack: true })
    expect(body.route.reason).toContain('timeout')
    expect(Date.now() - started).toBeGreaterThanOrEqual(750)
  })

  it('falls back when the connection to the fine-tuned model fails', async () => {
    f.stub.dropNext({ path: 'chat' })
    const body = await json(
      await f.generate({ task: 'copy-ft', input: 'tent', variables: { brand: 'Acme' } }),
    )
    expect(body.route).toMatchObject({ model: FOUNDATION, fellBack: true })
    expect(body.route.reason).toContain('connection failed')
  })

  it('logs a successful generation with task version, route, chunks, tokens, cost and latency', async () => {
    const res = await f.generate({ task: 'copy', input: 'tent', variables: { brand: 'Acme' }, subject: 'u1' })
    const body = await json(res)
    const row = (await f.generationRows()).find((r) => r.id === body.id)!
    expect(row).toMatchObject({
      status: 'succeeded',
      model: FOUNDATION,
      strategy: 'foundation',
      fell_back: false,
      task_version: 1,
      endpoint: 'generate',
      subject: 'u1',
      output: body.output,
      prompt_tokens: body.usage.promptTokens,
      completion_tokens: body.usage.completionTokens,
      error: null,
    })
    // The id the caller was answered with (X-Request-Id) is the one logged with the generation.
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
    expect(row.request_id).toBe(res.headers.get('x-request-id'))
    expect(Number(row.cost_usd)).toBeCloseTo(body.usage.costUsd, 8)
    expect((row.chunk_ids as string[]).map(Number).sort()).toEqual(
      body.citations.flatMap((c: { chunkIds: number[] }) => c.chunkIds).sort(),
    )
    expect(row.collection_id).not.toBeNull()
    expect(row.latency_ms).toBeGreaterThanOrEqual(0)
    // One canonical line per request: the access line carries the generation summary, and no key.
    const line = f.t.logs.find(
      (l) => l.msg === 'request' && (l.generation as { generationId?: string })?.generationId === body.id,
    )
    expect(line?.generation).toMatchObject({ model: FOUNDATION, taskVersion: 1, status: 'succeeded' })
    expect(JSON.stringify(f.t.logs)).not.toContain(f.t.adminKey)
  })

  it("charges the call's tokens to the key's rate-limit window", async () => {
    const key = await f.t.makeKey(['generate'])
    const body = await json(
      await f.generate({ task: 'copy', input: 'tent', variables: { brand: 'Acme' } }, key.key),
    )
    // Charges are sent in batches; flush sends them now. Summed: a request that crosses a minute
    // boundary is counted in one window, charged in the next.
    await f.t.flush()
    const { rows } = await f.t.db.pool.query(
      'SELECT sum(tokens)::int AS tokens FROM rate_limit_windows WHERE key_id = $1',
      [key.id],
    )
    expect(rows[0].tokens).toBe(body.usage.promptTokens + body.usage.completionTokens)
  })

  it('runs a newly activated task version on the next request', async () => {
    await f.putTask('copy-v', textTask({ systemPrompt: 'Version one. {{brand}}' }))
    await f.generate({ task: 'copy-v', input: 'tent', variables: { brand: 'Acme' } })
    await f.putTask('copy-v', textTask({ systemPrompt: 'Version two. {{brand}}' }))
    const body = await json(await f.generate({ task: 'copy-v', input: 'tent', variables: { brand: 'Acme' } }))
    expect(body.task).toEqual({ name: 'copy-v', version: 2 })
    expect((f.chatBodies().at(-1)!.messages as { content: string }[])[0]!.content).toContain('Version two.')
  })

  it('answers 502 problem+json with the request id when the model call fails, and logs the failure', async () => {
    f.stub.failNext({ path: 'chat', status: 500 })
    const res = await f.generate({ task: 'copy', input: 'tent', variables: { brand: 'Acme' } })
    expect(res.status).toBe(502)
    expect(res.headers.get('content-type')).toContain('application/problem+json')
    const problem = await json(res)
    const requestId = res.headers.get('x-request-id')
    expect(problem).toMatchObject({ code: 'upstream_error', requestId })
    expect(problem.detail).not.toMatch(/stub|processing your request/i)
    const rows = await f.generationRows()
    const row = rows.find((r) => r.request_id === requestId)!
    expect(row).toMatchObject({ status: 'failed', model: FOUNDATION, output: null })
    expect(row.error).toContain('HTTP 500')
    expect(f.t.logs.some((l) => l.msg === 'generation failed' && l.requestId === requestId)).toBe(true)
  })

  it('answers 504 when the foundation model times out', async () => {
    f.stub.hangNext({ path: 'chat' })
    const res = await f.generate({ task: 'copy', input: 'tent', variables: { brand: 'Acme' } })
    expect(res.status).toBe(504)
    expect((await json(res)).code).toBe('upstream_timeout')
  })

  it('accepts an input longer than a retrieval query, searching with its opening', async () => {
    const input = `Trailblazer tent ${'with more detail '.repeat(200)}`
    const res = await f.generate({ task: 'copy', input, variables: { brand: 'Acme' } })
    expect(res.status).toBe(200)
    expect((f.chatBodies().at(-1)!.messages as { content: string }[])[1]!.content).toBe(input)
  })

  it('answers 404 for an unknown task', async () => {
    const res = await f.generate({ task: 'nope', input: 'x' })
    expect(res.status).toBe(404)
    expect((await json(res)).code).toBe('not_found')
    expect(f.stub.chatCalls()).toBe(0)
  })

  it('answers 400 naming missing and unknown variables', async () => {
    const res = await f.generate({ task: 'copy', input: 'x', variables: { colour: 'red' } })
    expect(res.status).toBe(400)
    const problem = await json(res)
    expect(problem.errors).toEqual([
      { path: 'variables.brand', message: 'required by the task' },
      { path: 'variables.colour', message: 'not declared by the task' },
    ])
    expect(f.stub.chatCalls()).toBe(0)
  })

  it('answers 413 for an input over the limit', async () => {
    const res = await f.generate({ task: 'copy', input: 'x'.repeat(32_001), variables: { brand: 'Acme' } })
    expect(res.status).toBe(413)
    expect((await json(res)).code).toBe('payload_too_large')
    expect(f.stub.chatCalls()).toBe(0)
  })

  it('refuses a collection the key may not use', async () => {
    const key = await f.t.makeKey(['generate'], ['other'])
    const res = await f.generate({ task: 'copy', input: 'tent', variables: { brand: 'Acme' } }, key.key)
    expect(res.status).toBe(403)
  })

  it('needs the generate scope', async () => {
    const key = await f.t.makeKey(['admin'])
    const res = await f.generate({ task: 'copy', input: 'tent', variables: { brand: 'Acme' } }, key.key)
    expect(res.status).toBe(403)
  })

  it('dryRun returns the exact messages and route without a model call', async () => {
    const res = await f.generate({
      task: 'copy-ft',
      input: 'tent',
      variables: { brand: 'Acme' },
      dryRun: true,
    })
    expect(res.status).toBe(200)
    const body = await json(res)
    expect(body.dryRun).toBe(true)
    expect(body.route).toMatchObject({ model: FINE_TUNED, fallbackModel: FOUNDATION, strategy: 'fine_tuned' })
    expect(body.messages[0].role).toBe('system')
    expect(body.messages[1]).toEqual({ role: 'user', content: 'tent' })
    expect(body.citations.length).toBeGreaterThan(0)
    expect(f.stub.chatCalls()).toBe(0)
  })
})

describe('generation metrics', () => {
  it('count each generation with its latency, tokens and fallbacks on /metrics', async () => {
    const route = { strategy: 'fine_tuned', foundationModel: FOUNDATION, fineTunedModel: FINE_TUNED }
    expect((await f.putTask('copy-metrics', textTask({ route }))).status).toBe(201)
    f.stub.failNext({ path: 'chat', status: 500 })
    expect(
      (await f.generate({ task: 'copy-metrics', input: 'tent', variables: { brand: 'Acme' } })).status,
    ).toBe(200)
    const text = await (await f.t.request('/metrics', { key: f.t.adminKey })).text()
    const line = (name: string) =>
      text
        .split('\n')
        .find((l) => l.startsWith(name) && l.includes('task="copy-metrics"') && !l.startsWith('#'))
    expect(line('onbrand_generation_duration_seconds_count')).toMatch(/ 1$/)
    expect(line('onbrand_generation_fallbacks_total')).toMatch(/ 1$/)
    expect(line('onbrand_generation_tokens_total')).toMatch(/ [1-9]\d*$/)
  })

  it('add up spend by task, model and arm, and count an unpriced model’s calls as unknown, never as 0', async () => {
    const split = { strategy: 'fine_tuned', foundationModel: FOUNDATION, fineTunedModel: FINE_TUNED }
    expect((await f.putTask('copy-spend', textTask({ route: split }))).status).toBe(201)
    const unpriced = { strategy: 'foundation', foundationModel: 'gpt-unpriced' }
    const registered = await f.t.request('/v1/model-registry', {
      method: 'POST',
      key: f.t.adminKey,
      json: { id: 'gpt-unpriced' },
    })
    expect(registered.status).toBe(201)
    expect((await f.putTask('copy-unpriced', textTask({ route: unpriced }))).status).toBe(201)
    const costs: number[] = []
    for (let i = 0; i < 2; i++) {
      const body = await json(
        await f.generate({ task: 'copy-spend', input: `tent ${i}`, variables: { brand: 'Acme' } }),
      )
      expect(body.route.model).toBe(FINE_TUNED)
      costs.push(body.usage.costUsd)
    }
    f.stub.failNext({ path: 'chat', status: 500 })
    const fellBack = await json(
      await f.generate({ task: 'copy-spend', input: 'tent', variables: { brand: 'Acme' } }),
    )
    expect(fellBack.route.model).toBe(FOUNDATION)
    const free = await json(
      await f.generate({ task: 'copy-unpriced', input: 'tent', variables: { brand: 'Acme' } }),
    )
    expect(free.usage.costUsd).toBeNull()
    const text = await (await f.t.request('/metrics', { key: f.t.adminKey })).text()
    const value = (name: string, labels: string) => {
      const found = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`))
      return found === undefined ? undefined : Number(found.split(' ').pop())
    }
    const spend = 'onbrand_generation_cost_usd_total'
    expect(value(spend, `task="copy-spend",model="${FINE_TUNED}",arm="fine_tuned"`)).toBeCloseTo(
      costs[0]! + costs[1]!,
      10,
    )
    // The fallback keeps its arm and is priced at the model that answered.
    expect(value(spend, `task="copy-spend",model="${FOUNDATION}",arm="fine_tuned"`)).toBeCloseTo(
      fellBack.usage.costUsd,
      10,
    )
    expect(value(spend, 'task="copy-unpriced",model="gpt-unpriced",arm="foundation"')).toBeUndefined()
    expect(
      value(
        'onbrand_generation_unpriced_total',
        'task="copy-unpriced",model="gpt-unpriced",arm="foundation"',
      ),
    ).toBe(1)
  })
})
