import { describe, expect, it } from 'vitest'
import type { ChatModel } from '../../src/generation/chat-model.js'
import { ModelCallError } from '../../src/generation/chat-model.js'
import {
  type BreakerState,
  countsAgainstModel,
  ModelCircuitBreakers,
} from '../../src/generation/circuit-breaker.js'

function rig(failureThreshold = 3, coolDownMs = 1000) {
  let now = 0
  const changes: [string, BreakerState][] = []
  const breakers = new ModelCircuitBreakers({
    failureThreshold,
    coolDownMs,
    now: () => now,
    onChange: (model, state) => changes.push([model, state]),
  })
  return { breakers, changes, advance: (ms: number) => (now += ms) }
}

const down = new ModelCallError('http', 'HTTP 503', 503)
const KEY = 'ft\nhttp://a'

describe('ModelCircuitBreakers', () => {
  it('opens after the threshold of failures in a row; a success in between starts the count again', () => {
    const { breakers, changes } = rig(3)
    breakers.failed(KEY, 'ft', down)
    breakers.failed(KEY, 'ft', down)
    breakers.succeeded(KEY)
    breakers.failed(KEY, 'ft', down)
    breakers.failed(KEY, 'ft', down)
    expect(breakers.state(KEY)).toBe('closed')
    expect(breakers.admit(KEY)).toBe(true)
    breakers.failed(KEY, 'ft', down)
    expect(breakers.state(KEY)).toBe('open')
    expect(breakers.admit(KEY)).toBe(false)
    expect(changes).toEqual([['ft', 'open']])
  })

  it('admits one trial after the cool-down: its success closes, its failure opens again', () => {
    const { breakers, changes, advance } = rig(1, 1000)
    breakers.failed(KEY, 'ft', down)
    advance(999)
    expect(breakers.admit(KEY)).toBe(false)
    advance(1)
    expect(breakers.state(KEY)).toBe('half_open')
    expect(breakers.admit(KEY)).toBe(true)
    // Only one trial at a time.
    expect(breakers.admit(KEY)).toBe(false)
    breakers.failed(KEY, 'ft', down)
    expect(breakers.state(KEY)).toBe('open')
    expect(breakers.admit(KEY)).toBe(false)
    advance(1000)
    expect(breakers.admit(KEY)).toBe(true)
    breakers.succeeded(KEY)
    expect(breakers.state(KEY)).toBe('closed')
    expect(breakers.admit(KEY)).toBe(true)
    expect(breakers.admit(KEY)).toBe(true)
    expect(changes).toEqual([
      ['ft', 'open'],
      ['ft', 'half_open'],
      ['ft', 'open'],
      ['ft', 'half_open'],
      ['ft', 'closed'],
    ])
  })

  it('frees a trial that was never reported after another cool-down, and one that says nothing about the model', () => {
    const { breakers, advance } = rig(1, 1000)
    breakers.failed(KEY, 'ft', down)
    advance(1000)
    expect(breakers.admit(KEY)).toBe(true)
    advance(999)
    expect(breakers.admit(KEY)).toBe(false)
    advance(1)
    expect(breakers.admit(KEY)).toBe(true)
    breakers.failed(KEY, 'ft', new ModelCallError('aborted', 'the caller went away'))
    expect(breakers.admit(KEY)).toBe(true)
  })

  it('keeps one breaker per model and endpoint', () => {
    const { breakers } = rig(1)
    breakers.failed(KEY, 'ft', down)
    expect(breakers.admit(KEY)).toBe(false)
    expect(breakers.admit('ft\nhttp://b')).toBe(true)
    expect(breakers.admit('other\nhttp://a')).toBe(true)
  })

  it('counts what says the model is unavailable, not what the request or the caller caused', () => {
    const counted = [
      new ModelCallError('timeout', 't'),
      new ModelCallError('connection', 'c'),
      new ModelCallError('bad_reply', 'b'),
      new ModelCallError('http', 'h', 500),
      new ModelCallError('http', 'h', 503),
      new ModelCallError('http', 'h', 429),
      new ModelCallError('http', 'h', 401),
      new ModelCallError('http', 'h', 404),
    ]
    const ignored = [
      new ModelCallError('http', 'h', 400),
      new ModelCallError('http', 'h', 413),
      new ModelCallError('http', 'h', 422),
      new ModelCallError('aborted', 'a'),
      new ModelCallError('invalid_output', 'i'),
      new Error('a bug'),
    ]
    expect(counted.map(countsAgainstModel)).toEqual(counted.map(() => true))
    expect(ignored.map(countsAgainstModel)).toEqual(ignored.map(() => false))
  })

  it('records the outcome of guarded calls and streams', async () => {
    const { breakers } = rig(2)
    let fail = true
    const model: ChatModel = {
      id: 'ft',
      complete: async () => {
        if (fail) throw down
        return { text: 'ok' }
      },
      async *stream() {
        yield { type: 'delta', text: 'partial' }
        if (fail) throw down
      },
    }
    const guarded = breakers.guard({ id: 'ft', baseURL: 'http://a', contextWindow: 1000 }, model)
    await expect(guarded.complete([], {})).rejects.toBe(down)
    const events: unknown[] = []
    await expect(
      (async () => {
        for await (const event of guarded.stream([], {})) events.push(event)
      })(),
    ).rejects.toBe(down)
    expect(events).toEqual([{ type: 'delta', text: 'partial' }])
    expect(breakers.state(KEY)).toBe('open')
    fail = false
    const { breakers: fresh } = rig(1)
    const healthy = fresh.guard({ id: 'ft', baseURL: 'http://a', contextWindow: 1000 }, model)
    fresh.failed(KEY, 'ft', down)
    expect(fresh.state(KEY)).toBe('open')
    for await (const _ of healthy.stream([], {})) {
      // drain
    }
    expect(fresh.state(KEY)).toBe('closed')
  })
})
