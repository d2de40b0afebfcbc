import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type GenerationLog, insertGenerations } from '../../src/db/generations.js'
import type { Database } from '../../src/db/pool.js'
import type { Queryable } from '../../src/db/transaction.js'
import { GenerationLogWriter } from '../../src/generation/generation-log.js'
import { createLogger } from '../../src/logger.js'
import { countingPool } from '../support/counting-pool.js'
import { createTestDatabase } from '../support/test-db.js'

let db: Database
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(async () => db.close())

function row(overrides: Partial<GenerationLog> = {}): GenerationLog {
  return {
    id: randomUUID(),
    requestId: 'req',
    taskVersionId: null,
    apiKeyId: null,
    collectionName: null,
    endpoint: 'generate',
    subject: null,
    strategy: 'foundation',
    routeReason: 'foundation route',
    model: 'gpt-4o-mini',
    fellBack: false,
    chunkIds: [1, 2, 3],
    input: { input: 'tent', variables: { brand: 'Acme' } },
    output: 'A tent [1].',
    promptTokens: 10,
    completionTokens: 5,
    costUsd: 0.0000015,
    latencyMs: 12,
    status: 'succeeded',
    error: null,
    messages: [
      { role: 'system', content: 'You write copy.\n\n[1] (source: tent.md)\nA tent.' },
      { role: 'user', content: 'tent' },
    ],
    passages: [
      {
        documentId: 1,
        sourceId: 'tent.md',
        title: '',
        kind: 'guideline',
        headingPath: '',
        text: 'A tent.',
        chunkIds: [1],
      },
    ],
    promptTemplate: 'foundation',
    routeArm: 'foundation',
    ...overrides,
  }
}

async function stored(ids: string[]) {
  const { rows } = await db.pool.query(
    `SELECT id, chunk_ids AS "chunkIds", input, messages, passages, prompt_template AS "promptTemplate", cost_usd::float8 AS "costUsd", created_at AS "createdAt"
     FROM generations WHERE id = ANY ($1::uuid[]) ORDER BY created_at, id`,
    [ids],
  )
  return rows
}

describe('the generation log writer', () => {
  it('writes rows queued together in one statement, with their values and finish times', async () => {
    const { pool, seen } = countingPool(db.pool)
    const writer = new GenerationLogWriter(pool, createLogger('silent'), { flushMs: 10_000 })
    const rows = Array.from({ length: 40 }, (_, i) => row({ chunkIds: [i, i + 1] }))
    for (const r of rows) writer.write(r)
    await writer.flush()
    expect(seen.statements).toBe(1)
    const written = await stored(rows.map((r) => r.id))
    expect(written).toHaveLength(40)
    const first = written.find((w) => w.id === rows[0]!.id)
    expect(first).toMatchObject({
      chunkIds: ['0', '1'],
      input: rows[0]!.input,
      costUsd: 0.0000015,
      messages: rows[0]!.messages,
      passages: rows[0]!.passages,
      promptTemplate: 'foundation',
    })
    expect(first.createdAt).toBeInstanceOf(Date)
  })

  it('writes on its own after flushMs, without a flush call', async () => {
    const writer = new GenerationLogWriter(db.pool, createLogger('silent'), { flushMs: 20 })
    const one = row()
    writer.write(one)
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(await stored([one.id])).toHaveLength(1)
  })

  it('keeps rows while the database is unreachable and writes them when it is back', async () => {
    const { pool, seen } = countingPool(db.pool, 1)
    const writer = new GenerationLogWriter(pool, createLogger('silent'), { flushMs: 10_000 })
    const rows = [row(), row()]
    for (const r of rows) writer.write(r)
    await writer.flush()
    expect(seen.statements).toBe(2)
    expect(await stored(rows.map((r) => r.id))).toHaveLength(2)
  })

  it('gives up flushing after the attempts it was given while the database stays unreachable', async () => {
    const lines: string[] = []
    const logger = createLogger('error', { write: (line: string) => lines.push(line) })
    const down: Queryable = {
      query: (() =>
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error('Connection terminated unexpectedly')), 5),
        )) as Queryable['query'],
    }
    const writer = new GenerationLogWriter(down, logger, { flushMs: 10_000 })
    writer.write(row())
    const started = Date.now()
    await writer.flush(2)
    expect(Date.now() - started).toBeLessThan(5000)
    expect(lines.join('')).toContain('generation log rows not written')
  })

  it('does not write a row twice when a committed batch is retried', async () => {
    const one = row()
    await insertGenerations(db.pool, [{ ...one, createdAt: new Date() }])
    await insertGenerations(db.pool, [{ ...one, createdAt: new Date() }])
    expect(await stored([one.id])).toHaveLength(1)
  })

  it('writes the good rows of a batch the database refused for one bad row', async () => {
    const lines: string[] = []
    const logger = createLogger('error', { write: (line: string) => lines.push(line) })
    const writer = new GenerationLogWriter(db.pool, logger, { flushMs: 10_000 })
    const good = [row(), row()]
    // A task version that does not exist: a foreign key the database enforces.
    const bad = row({ taskVersionId: 987_654_321 })
    writer.write(good[0]!)
    writer.write(bad)
    writer.write(good[1]!)
    await writer.flush()
    expect(await stored(good.map((r) => r.id))).toHaveLength(2)
    expect(await stored([bad.id])).toHaveLength(0)
    expect(lines.join('')).toContain(bad.id)
  })

  it('stores a row whatever text and numbers it holds: NUL, lone surrogates, counts and costs out of range', async () => {
    const hostile = row({
      output: 'NUL \u0000 in the reply, a lone \ud800 surrogate',
      input: { input: 'the caller\u0000s input \udc00', messages: [{ role: 'user', content: 'a\u0000b' }] },
      error: 'bad_reply: \u0000',
      promptTokens: 1e12,
      completionTokens: -5,
      costUsd: 1e12,
      latencyMs: Number.NaN,
    })
    await insertGenerations(db.pool, [{ ...hostile, createdAt: new Date() }])
    const { rows } = await db.pool.query(
      `SELECT output, input, error, prompt_tokens, completion_tokens, cost_usd, latency_ms
       FROM generations WHERE id = $1`,
      [hostile.id],
    )
    expect(rows).toEqual([
      {
        output: 'NUL \ufffd in the reply, a lone \ufffd surrogate',
        input: { input: 'the caller\ufffds input \ufffd', messages: [{ role: 'user', content: 'a\ufffdb' }] },
        error: 'bad_reply: \ufffd',
        // An integer column cannot hold 1e12, and a negative count is no count.
        prompt_tokens: null,
        completion_tokens: null,
        cost_usd: null,
        latency_ms: null,
      },
    ])
  })
})
