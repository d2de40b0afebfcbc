import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { claimForEvaluation } from '../../src/db/datasets.js'
import {
  createGenerationFixture,
  FINE_TUNED,
  FOUNDATION,
  type GenerationFixture,
  textTask,
} from '../generation/generation-fixture.js'
import { json } from '../support/test-app.js'

let f: GenerationFixture
const ids: string[] = []
let corrected = ''
let heldOut = ''

const SHORT = 'Brand {{brand}}, short.\n\n{{context}}'

beforeAll(async () => {
  f = await createGenerationFixture({
    MODELS_JSON: JSON.stringify({
      models: {
        [FOUNDATION]: { inputPricePer1M: 0.15, outputPricePer1M: 0.6, trainingPricePer1M: 3 },
        [FINE_TUNED]: { inputPricePer1M: 0.3, outputPricePer1M: 1.2 },
      },
    }),
  })
  const route = {
    strategy: 'foundation',
    foundationModel: FOUNDATION,
    fineTunedModel: FINE_TUNED,
    fineTunedSystemPrompt: SHORT,
  }
  expect((await f.putTask('ds', textTask({ route }))).status).toBe(201)
  for (let i = 0; i < 24; i++) {
    f.stub.setReply(FOUNDATION, `Copy number ${i} [1].`)
    const res = await f.generate({ task: 'ds', input: `Tent brief ${i}`, variables: { brand: 'Acme' } })
    ids.push((await json(res)).id)
  }
  // A duplicate of brief 0 (same input and variables): dropped from datasets.
  const dup = await f.generate({ task: 'ds', input: 'Tent brief 0', variables: { brand: 'Acme' } })
  ids.push((await json(dup)).id)
  await f.t.flush()
  const review = (id: string, body: unknown) =>
    f.t.request(`/v1/generations/${id}/feedback`, { method: 'PUT', key: f.t.adminKey, json: body })
  for (const id of ids) expect((await review(id, { approved: true, rating: 5 })).status).toBe(200)
  corrected = ids[3]!
  expect((await review(corrected, { correctedOutput: 'A better line [1].' })).status).toBe(200)
  // One generation is already an evaluation case: it must stay out of every training set.
  heldOut = ids[5]!
  expect((await claimForEvaluation(f.t.db.pool, [heldOut], randomUUID())).refused).toEqual([])
  // The guidelines change after the fact: examples keep the passages the model saw.
  await f.t.db.pool.query(`UPDATE chunks SET text = 'REWRITTEN ' || text`)
})
afterAll(async () => f?.close())

const build = (body: Record<string, unknown>, task = 'ds') =>
  f.t.request(`/v1/tasks/${task}/datasets`, { method: 'POST', key: f.t.adminKey, json: body })

async function lines(path: string): Promise<any[]> {
  const res = await f.t.request(path, { key: f.t.adminKey })
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toContain('application/x-ndjson')
  const text = await res.text()
  if (text === '') return []
  expect(text.endsWith('\n')).toBe(true)
  return text
    .slice(0, -1)
    .split('\n')
    .map((line) => JSON.parse(line))
}

describe('POST /v1/tasks/{name}/datasets', () => {
  it('builds a split, duplicate-free snapshot whose JSONL parses line by line in the OpenAI chat format', async () => {
    const res = await build({ review: 'approved_or_corrected', validationShare: 0.2, seed: 'a' })
    expect(res.status).toBe(201)
    const dataset = await json(res)
    expect(dataset.counts).toMatchObject({
      candidates: 24,
      duplicatesDropped: 1,
      corrected: 1,
      heldForEvaluation: 1,
    })
    expect(dataset.counts.train + dataset.counts.validation).toBe(23)
    expect(dataset.status).toBe('not_ready')
    expect(dataset.report.warnings.map((w: { rule: string }) => w.rule)).toEqual(['few_examples'])

    const train = await lines(dataset.files.train)
    const validation = await lines(dataset.files.validation)
    expect(train).toHaveLength(dataset.counts.train)
    expect(validation).toHaveLength(dataset.counts.validation)
    for (const example of [...train, ...validation]) {
      expect(Object.keys(example)).toEqual(['messages'])
      expect(example.messages.map((m: { role: string }) => m.role)).toEqual(['system', 'user', 'assistant'])
      for (const m of example.messages) expect(Object.keys(m).sort()).toEqual(['content', 'role'])
      // The passages the model saw, not the re-ingested ones.
      expect(example.messages[0].content).not.toContain('REWRITTEN')
    }
    const manifest = await lines(dataset.files.manifest)
    expect(manifest).toHaveLength(23)
    const inDataset = manifest.map((m) => m.generationId)
    expect(inDataset).not.toContain(heldOut)
    expect(new Set(inDataset).size).toBe(23)
    // The manifest line of the correction points at its train/validation line, whose answer is the correction.
    const entry = manifest.find((m) => m.generationId === corrected)
    expect(entry.corrected).toBe(true)
    const example = (entry.split === 'train' ? train : validation)[entry.line - 1]
    expect(example.messages.at(-1)).toEqual({ role: 'assistant', content: 'A better line [1].' })
    // Exactly the stored prompt.
    const stored = await json(await f.t.request(`/v1/generations/${corrected}`, { key: f.t.adminKey }))
    expect(example.messages.slice(0, -1)).toEqual(stored.messages)

    const details = await json(await f.t.request(`/v1/datasets/${dataset.id}`, { key: f.t.adminKey }))
    expect(details.tokenStats.train.count).toBe(dataset.counts.train)
    expect(details.report.estimate.epochs).toBeGreaterThan(0)
    expect(details.report.estimate.costUsd).toBeCloseTo((details.report.estimate.billedTokens * 3) / 1e6, 10)
  })

  it('splits deterministically by seed and exports preference pairs from corrections', async () => {
    const again = async (seed: string) => {
      const dataset = await json(await build({ validationShare: 0.3, seed }))
      return { dataset, manifest: await lines(dataset.files.manifest) }
    }
    const a = await again('same')
    const b = await again('same')
    const c = await again('other')
    const splitOf = (m: { generationId: string; split: string }[]) =>
      Object.fromEntries(m.map((x) => [x.generationId, x.split]))
    expect(splitOf(b.manifest)).toEqual(splitOf(a.manifest))
    expect(splitOf(c.manifest)).not.toEqual(splitOf(a.manifest))
    const pairs = await lines(a.dataset.files.preference)
    const correctedSplit = splitOf(a.manifest)[corrected]
    expect(pairs).toHaveLength(correctedSplit === 'train' ? 1 : 0)
    const withPair = (await json(await build({ validationShare: 0, seed: 'x' }))).files.preference
    const [pair] = await lines(withPair)
    expect(pair.preferred_output).toEqual([{ role: 'assistant', content: 'A better line [1].' }])
    expect(pair.non_preferred_output).toEqual([{ role: 'assistant', content: 'Copy number 3 [1].' }])
    expect(pair.input.messages.map((m: { role: string }) => m.role)).toEqual(['system', 'user'])
  })

  it('renders the fine_tuned variant from the stored passages and variables', async () => {
    const dataset = await json(await build({ promptVariant: 'fine_tuned', validationShare: 0, seed: 'ft' }))
    const train = await lines(dataset.files.train)
    for (const example of train) {
      expect(example.messages[0].content.startsWith('Brand Acme, short.')).toBe(true)
      expect(example.messages[0].content).toContain('<reference_data>')
      expect(example.messages[0].content).not.toContain('REWRITTEN')
    }
  })

  it('selects approved only when asked, and keeps training generations out of evaluation', async () => {
    const approvedOnly = await json(await build({ review: 'approved', validationShare: 0, seed: 's' }))
    const manifest = await lines(approvedOnly.files.manifest)
    expect(manifest.map((m) => m.generationId)).not.toContain(corrected)
    const trained = manifest[0].generationId
    const refused = await claimForEvaluation(f.t.db.pool, [trained, randomUUID()], randomUUID())
    expect(refused.refused).toEqual([trained])
  })

  it('refuses to export a dataset that failed validation, naming the lines', async () => {
    // Too few examples is an error: 2 approved generations of a fresh task, one with a special token.
    const small = textTask({ route: { strategy: 'foundation', foundationModel: FOUNDATION } })
    expect((await f.putTask('tiny', small)).status).toBe(201)
    const smallIds: string[] = []
    for (let i = 0; i < 2; i++) {
      f.stub.setReply(FOUNDATION, i === 0 ? 'Ends badly <|endoftext|>' : 'Fine.')
      smallIds.push(
        (await json(await f.generate({ task: 'tiny', input: `b${i}`, variables: { brand: 'A' } }))).id,
      )
    }
    await f.t.flush()
    for (const id of smallIds) {
      await f.t.request(`/v1/generations/${id}/feedback`, {
        method: 'PUT',
        key: f.t.adminKey,
        json: { approved: true },
      })
    }
    const invalid = await json(await build({ validationShare: 0, seed: 'z' }, 'tiny'))
    expect(invalid.status).toBe('invalid')
    const rules = invalid.report.errors.map(
      (e: { rule: string; line?: string }) => `${e.rule}@${e.line ?? '-'}`,
    )
    expect(rules).toContain('too_few_examples@-')
    const special = invalid.report.errors.find((e: { rule: string }) => e.rule === 'special_token')
    expect(special.line).toMatch(/^train:\d$/)
    expect(special.generationId).toBe(smallIds[0])
    const res = await f.t.request(invalid.files.train, { key: f.t.adminKey })
    expect(res.status).toBe(409)
    expect((await json(res)).errors.map((e: { path: string }) => e.path)).toContain(special.line)
  })

  it('answers 404 for an unknown task or dataset', async () => {
    expect((await build({}, 'no-such-task')).status).toBe(404)
    expect((await f.t.request(`/v1/datasets/${randomUUID()}`, { key: f.t.adminKey })).status).toBe(404)
  })
})

describe('GET /v1/tasks/{name}/datasets', () => {
  it('lists the task’s datasets newest first; a collection-limited key sees only those it built', async () => {
    const first = await json(await build({ seed: 'list-1' }))
    const second = await json(await build({ seed: 'list-2', review: 'approved' }))
    const res = await f.t.request('/v1/tasks/ds/datasets', { key: f.t.adminKey })
    expect(res.status).toBe(200)
    const listed = (await json(res)).data as { id: string; params: { seed: string } }[]
    const mine = listed.filter((d) => d.id === first.id || d.id === second.id)
    expect(mine.map((d) => d.id)).toEqual([second.id, first.id])
    expect(listed[0]).toEqual(second)

    const limited = (await f.t.makeKey(['admin'], ['brand'])).key
    expect((await json(await f.t.request('/v1/tasks/ds/datasets', { key: limited }))).data).toEqual([])
    const own = await json(
      await f.t.request('/v1/tasks/ds/datasets', { method: 'POST', key: limited, json: { seed: 'list-3' } }),
    )
    const seen = (await json(await f.t.request('/v1/tasks/ds/datasets', { key: limited }))).data
    expect(seen.map((d: { id: string }) => d.id)).toEqual([own.id])
    expect((await f.t.request('/v1/tasks/no-such-task/datasets', { key: f.t.adminKey })).status).toBe(404)
  })
})
