import { mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { failedGates, formatTable, parseArm, parseGate } from '../../src/cli/evals-format.js'
import { UsageError } from '../../src/cli/run-command.js'
import type { Database } from '../../src/db/pool.js'
import { parseCasesJsonl } from '../../src/evals/create-eval-set.js'
import type { EvalRunView } from '../../src/evals/get-eval-run.js'
import { buildReport } from '../../src/evals/report.js'
import { type OpenAIStub, startOpenAIStub } from '../support/openai-stub.js'
import { runOnbrand } from '../support/run-onbrand.js'
import { createTestDatabase } from '../support/test-db.js'

describe('evals command arguments', () => {
  it('reads arms and gates, and refuses malformed ones', () => {
    expect(parseArm('name=tuned,model=ft:x:y,variant=fine_tuned,retrieval=off,version=2')).toEqual({
      name: 'tuned',
      model: 'ft:x:y',
      promptVariant: 'fine_tuned',
      retrieval: 'off',
      taskVersion: 2,
    })
    expect(() => parseArm('colour=blue')).toThrow(UsageError)
    expect(parseGate('tuned:icontains>=0.9')).toMatchObject({
      arm: 'tuned',
      check: 'icontains',
      op: '>=',
      value: 0.9,
    })
    expect(parseGate('a:passAll>0.5')).toMatchObject({ check: 'passAll', op: '>' })
    expect(() => parseGate('tuned icontains 0.9')).toThrow(UsageError)
  })

  it('fails a gate below its rate, on an undecided check and on an unknown arm', () => {
    const arm = {
      name: 'a',
      taskVersion: 1,
      model: 'm',
      promptVariant: 'as_served' as const,
      retrieval: 'on' as const,
    }
    const result = (pass: boolean) => ({
      caseOrdinal: 1,
      arm: 0,
      repetition: 0,
      status: 'succeeded' as const,
      output: 'x',
      error: null,
      model: 'm',
      promptTokens: 10,
      completionTokens: 5,
      costUsd: null,
      latencyMs: 100,
      invalidCitations: [],
      citedPassages: 0,
      checks: [{ name: 'c', type: 'contains', pass }],
      judge: null,
      judgeCostUsd: null,
    })
    const report = buildReport(
      { task: 't', arms: [arm], judge: null, repetitions: 4, budgetUsd: null, concurrency: 1 },
      [true, true, true, false].map((pass, repetition) => ({ ...result(pass), repetition })),
    )
    expect(failedGates(report, [parseGate('a:c>=0.75')])).toEqual([])
    expect(failedGates(report, [parseGate('a:c>=0.8')])).toEqual(['a:c>=0.8: c is 0.750'])
    expect(failedGates(report, [parseGate('a:other>=0.1')])[0]).toMatch(/not decided/)
    expect(failedGates(report, [parseGate('b:c>=0.1')])[0]).toMatch(/no arm named b/)
    const table = formatTable({
      id: 'r',
      status: 'succeeded',
      stoppedReason: null,
      report,
    } as unknown as EvalRunView)
    expect(table).toContain('75% (30–95)')
    expect(table).toMatch(/cost per case\s+unpriced/)
  })

  it('ships example evaluation sets that parse as cases', () => {
    const dir = join(import.meta.dirname, '..', '..', 'examples', 'evals')
    const files = readdirSync(dir).filter((file) => file.endsWith('.jsonl'))
    expect(files.length).toBe(4)
    for (const file of files)
      expect(parseCasesJsonl(readFileSync(join(dir, file), 'utf8')).length).toBeGreaterThan(1)
  })
})

let db: (Database & { url?: string }) | undefined
let stub: OpenAIStub
const env: Record<string, string> = {}
beforeAll(async () => {
  stub = await startOpenAIStub({ distinctReplies: true })
  if (process.env.TEST_DATABASE_URL) {
    db = await createTestDatabase({ migrate: false })
    env.DATABASE_URL = db.url ?? ''
  } else env.DATA_DIR = join(mkdtempSync(join(tmpdir(), 'onbrand-evals-cli-')), 'db')
})
afterAll(async () => {
  await db?.close()
  await stub?.close()
})

const onbrand = (args: string[]) =>
  runOnbrand(args, { LOG_LEVEL: 'warn', OPENAI_BASE_URL: stub.url, OPENAI_API_KEY: 'test', ...env })

describe('onbrand evals', { timeout: 240_000 }, () => {
  it('runs an example set through two arms, prints the table, and exits 1 when a gate fails', async () => {
    expect((await onbrand(['tasks', 'load', 'examples/tasks'])).status).toBe(0)
    const created = await onbrand([
      'evals',
      'create-set',
      '--task',
      'product-description',
      '--name',
      'example',
      '--file',
      'examples/evals/product-description.jsonl',
    ])
    expect(created.status, created.out).toBe(0)
    const setId = created.out.split('\t')[0]!.trim()
    const arms = [
      '--arm',
      'name=mini,model=gpt-4o-mini,retrieval=off',
      '--arm',
      'name=other,model=gpt-4.1-mini,retrieval=off',
    ]
    const passing = await onbrand([
      'evals',
      'run',
      '--task',
      'product-description',
      '--set',
      setId,
      ...arms,
      '--gate',
      'mini:passAll>=0',
    ])
    expect(passing.status, passing.out).toBe(0)
    expect(passing.out).toMatch(/^\s+mini\s+other/m)
    expect(passing.out).toMatch(/^citations-valid\s/m)
    const failing = await onbrand([
      'evals',
      'run',
      '--set',
      setId,
      ...arms,
      '--gate',
      'other:max-length>=1.5',
      '--json',
    ])
    expect(failing.status, failing.out).toBe(1)
    const report = JSON.parse(failing.out.trim().split('\n').at(-1)!)
    expect(report.report.arms.map((a: { name: string }) => a.name)).toEqual(['mini', 'other'])
    expect(report.gates.failed[0]).toMatch(/^other:max-length>=1.5/)
    // The two models answered differently.
    const outputs = stub.calls.filter((c) => c.path === '/v1/chat/completions').map((c) => c.body.model)
    expect(new Set(outputs)).toEqual(new Set(['gpt-4o-mini', 'gpt-4.1-mini']))
  })
})
