import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Database } from '../../src/db/pool.js'
import { type OpenAIStub, startOpenAIStub } from '../support/openai-stub.js'
import { runOnbrand } from '../support/run-onbrand.js'
import { createTestDatabase } from '../support/test-db.js'

// The real command in a process of its own, as a user runs it (from source through tsx, like `npm run`).
// On PostgreSQL it gets a fresh database of this file's own; on PGlite its own data folder.
let db: (Database & { url?: string }) | undefined
let stub: OpenAIStub
const work = mkdtempSync(join(tmpdir(), 'onbrand-cli-'))
const env: Record<string, string> = {}
beforeAll(async () => {
  stub = await startOpenAIStub()
  if (process.env.TEST_DATABASE_URL) {
    db = await createTestDatabase({ migrate: false })
    env.DATABASE_URL = db.url ?? ''
  } else {
    env.DATA_DIR = join(work, 'db')
  }
})
afterAll(async () => {
  await db?.close()
  await stub?.close()
})

function onbrand(
  args: string[],
  extraEnv: Record<string, string> = {},
): Promise<{ status: number | null; out: string }> {
  return runOnbrand(args, { LOG_LEVEL: 'warn', OPENAI_BASE_URL: '', OPENAI_API_KEY: '', ...env, ...extraEnv })
}

function folder(name: string, files: Record<string, string | Buffer>): string {
  const dir = join(work, name)
  mkdirSync(dir, { recursive: true })
  for (const [file, content] of Object.entries(files)) writeFileSync(join(dir, file), content)
  return dir
}

const GUIDELINE = '# Voice\n\nWrite in plain English. Use short sentences and active voice.\n'

// Each run starts a process and opens a database: slow on a busy machine.
describe('the onbrand command', { timeout: 180_000 }, () => {
  it('refuses a bad MODELS_JSON naming each bad field, before it touches the database', async () => {
    const models = JSON.stringify({ models: { 'gpt-4o-mini': { inputPricePer1M: -1, colour: 'red' } } })
    const { status, out } = await onbrand(['server'], { MODELS_JSON: models, PORT: 'eighty' })
    expect(status).toBe(1)
    expect(out).toMatch(/PORT/)
    expect(out).toMatch(/MODELS_JSON: models\.gpt-4o-mini\.inputPricePer1M/)
    expect(out).toMatch(/MODELS_JSON: models\.gpt-4o-mini: .*colour/)
    expect(out).not.toContain('onb_')
    if (db) {
      const { rows } = await db.pool.query("SELECT to_regclass('schema_migrations') IS NULL AS untouched")
      expect(rows[0].untouched).toBe(true)
    } else {
      expect(existsSync(env.DATA_DIR!)).toBe(false)
    }
  })

  it('exits 2 for a command or option it does not know', async () => {
    expect((await onbrand(['keyz'])).status).toBe(2)
    expect((await onbrand(['ingest', 'x', '--collection', 'brand', '--frobnicate'])).status).toBe(2)
  })

  it('exits 0 when every file was ingested, and loads the example tasks', async () => {
    const docs = folder('clean', { 'voice.md': GUIDELINE })
    const ingest = await onbrand(['ingest', docs, '--collection', 'brand', '--create'])
    expect(ingest.out).toMatch(/status\s+succeeded/)
    expect(ingest.status).toBe(0)
    const tasks = await onbrand(['tasks', 'load', 'examples/tasks'])
    expect(tasks.out).toContain('product-description: created version 1')
    expect(tasks.status).toBe(0)
  })

  it('backfills the embeddings of chunks stored without a provider, saying so in chunks, not documents', async () => {
    const model = { EMBEDDING_MODEL: 'stub-embed', EMBEDDING_DIMENSIONS: '64' }
    const docs = folder('later', { 'voice.md': GUIDELINE })
    const stored = await onbrand(['ingest', docs, '--collection', 'later', '--create'], model)
    expect(stored.out).toContain('No model provider configured')
    expect(stored.status).toBe(0)
    const provider = { ...model, OPENAI_BASE_URL: stub.url, OPENAI_API_KEY: 'test-key' }
    const { status, out } = await onbrand(['ingest', '--backfill', '--collection', 'later'], provider)
    expect(status).toBe(0)
    expect(out).toMatch(/Job [0-9a-f-]+: embedding the chunks of later stored without an embedding/)
    expect(out).toMatch(/^backfill {2}embedded 1 {2}reused 0 {2}errors 0$/m)
    expect(out).not.toContain('file(s) into')
    expect(out).not.toContain('docs')
  })

  it('lists the model registry, an unpriced model as unpriced rather than $0', async () => {
    const models = await onbrand(['models'], {
      MODELS_JSON: JSON.stringify({ models: { 'local-llama': {} } }),
    })
    expect(models.status).toBe(0)
    expect(models.out).toMatch(
      /^gpt-4o-mini\s+foundation\s+-\s+\$0\.15 \/ \$0\.6\s+\$3\s+-\s+128000\s+-\s+default \(not callable\)$/m,
    )
    expect(models.out).toMatch(/^local-llama\s+foundation\s+-\s+unpriced\s+unpriced\s/m)
    expect((await onbrand(['models', 'remove'])).status).toBe(2)
  })

  it('prints the insights and verdict of a task, as a table or as JSON, and exits 1 for an unknown task', async () => {
    expect((await onbrand(['tasks', 'load', 'examples/tasks'])).status).toBe(0)
    const table = await onbrand(['insights', 'product-description', '--window', '7d'])
    expect(table.out).toContain('product-description (active version 1), last 7 days')
    expect(table.out).toContain('verdict: not_enough_data')
    expect(table.out).toContain('0 calls in the last 7 days; at least 100 are needed')
    expect(table.status).toBe(0)
    const asJson = await onbrand(['insights', 'product-description', '--json'])
    expect(asJson.status).toBe(0)
    const body = JSON.parse(asJson.out)
    expect(body).toMatchObject({
      task: 'product-description',
      window: { days: 30 },
      verdict: { decision: 'not_enough_data' },
    })
    const missing = await onbrand(['insights', 'no-such-task'])
    expect(missing.out).toContain('No task named no-such-task')
    expect(missing.status).toBe(1)
    expect((await onbrand(['insights', 'product-description', '--window', '0d'])).status).toBe(2)
  })

  it('exits 3 when the job finished but a file was rejected, naming the file', async () => {
    const docs = folder('mixed', {
      'tone.md': GUIDELINE.replace('Voice', 'Tone'),
      'logo.png': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]),
    })
    const { status, out } = await onbrand(['ingest', docs, '--collection', 'brand'])
    expect(out).toMatch(/status\s+succeeded_with_errors/)
    expect(out).toContain('logo.png: the file is a PNG image, not text')
    expect(status).toBe(3)
  })

  it('exits 1 when the job failed', async () => {
    // The stub answers 64-dimensional vectors; a collection made for 32 cannot store them.
    const docs = folder('failing', { 'voice.md': GUIDELINE })
    const { status, out } = await onbrand(['ingest', docs, '--collection', 'narrow', '--create'], {
      OPENAI_BASE_URL: stub.url,
      OPENAI_API_KEY: 'test-key',
      EMBEDDING_MODEL: 'stub-embed',
      EMBEDDING_DIMENSIONS: '32',
    })
    expect(out).toMatch(/status\s+failed/)
    expect(out).toContain('returned vectors of 64 dimensions, but the collection expects 32')
    expect(status).toBe(1)
  })
})
