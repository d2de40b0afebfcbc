import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { insertDataset } from '../../src/db/datasets.js'
import { insertEvalResult, insertEvalRun, setEvalRunJob } from '../../src/db/eval-runs.js'
import { insertKindJob } from '../../src/db/ingest-jobs.js'
import { systemText } from '../../src/generation/prompt.js'
import { countTokens } from '../../src/tokens/tokenizer.js'
import { createTestApp, json, type TestApp } from '../support/test-app.js'

/**
 * Every verdict, reached from generations, reviews, datasets and evaluation runs written straight into
 * the database (fast), with the numbers behind each reason computed by hand in the comments.
 */

const FT = 'ft:gpt-4o-mini:acme::abc'
const HOSTED = 'ft:gpt-4o-mini:acme::hosted'
let t: TestApp

beforeAll(async () => {
  t = await createTestApp({
    MODELS_JSON: JSON.stringify({
      models: {
        // Catalog prices: gpt-4o 2.5/10 per 1M (fine-tuned 3.75/15, training 25), gpt-4o-mini 0.15/0.6
        // (fine-tuned 0.3/1.2, training 3).
        [FT]: { kind: 'fine_tuned', baseModel: 'gpt-4o-mini', inputPricePer1M: 0.3, outputPricePer1M: 1.2 },
        [HOSTED]: {
          kind: 'fine_tuned',
          baseModel: 'gpt-4o-mini',
          inputPricePer1M: 0.3,
          outputPricePer1M: 1.2,
          hostingPerHour: 5,
          shutdownDate: '2099-01-01',
        },
        'mystery-model': {},
      },
    }),
  })
})
afterAll(async () => t?.close())

async function putTask(name: string, route: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const activate = extra.activate === false ? '?activate=false' : ''
  const { activate: _a, ...definition } = extra
  const res = await t.request(`/v1/tasks/${name}${activate}`, {
    method: 'PUT',
    key: t.adminKey,
    json: { systemPrompt: 'You write product copy.\n\n{{context}}', route, ...definition },
  })
  expect(res.status).toBe(201)
  const { rows } = await t.db.pool.query<{ id: number }>(
    `SELECT v.id FROM task_versions v JOIN tasks t ON t.id = v.task_id WHERE t.name = $1 ORDER BY v.version DESC LIMIT 1`,
    [name],
  )
  return rows[0]!.id
}

interface Seed {
  versionId: number
  n: number
  model: string
  arm?: 'foundation' | 'fine_tuned'
  /** The calls spread evenly back from now over this many hours. */
  spanHours: number
  promptTokens?: number
  completionTokens?: number
  /** Per call; null: unpriced. */
  costUsd?: number | null
  approved?: number
  rejected?: number
  corrected?: number
  fellBack?: number
  collection?: string
  messages?: { role: string; content: string }[]
  passages?: unknown[]
}

async function seed(s: Seed): Promise<void> {
  const approved = s.approved ?? 0
  const rejected = s.rejected ?? 0
  const corrected = s.corrected ?? 0
  await t.db.pool.query(
    `INSERT INTO generations (request_id, task_version_id, endpoint, strategy, route_reason, model, fell_back, input,
       output, prompt_tokens, completion_tokens, cost_usd, latency_ms, status, created_at, messages, passages,
       prompt_template, route_arm, review_state, collection_id)
     SELECT 'seed-' || i, $1, 'generate', 'foundation', 'seeded', $2, i > $3 - $4, '{"input": "Brief"}'::jsonb,
       'Copy.', $5, $6, $7, 100 + i % 100, 'succeeded', now() - make_interval(secs => i * $8 / $3::float8),
       $14::jsonb, $15::jsonb, 'foundation', $9,
       CASE WHEN i <= $10 THEN 'approved' WHEN i <= $10 + $11 THEN 'rejected'
            WHEN i <= $10 + $11 + $12 THEN 'corrected' ELSE 'unreviewed' END,
       (SELECT id FROM collections WHERE name = $13)
     FROM generate_series(1, $3::int) AS i`,
    [
      s.versionId,
      s.model,
      s.n,
      s.fellBack ?? 0,
      s.promptTokens ?? 2000,
      s.completionTokens ?? 200,
      s.costUsd === undefined ? 0.007 : s.costUsd,
      s.spanHours * 3600,
      s.arm ?? 'foundation',
      approved,
      rejected,
      corrected,
      s.collection ?? null,
      JSON.stringify(
        s.messages ?? [
          { role: 'system', content: 'You write product copy.' },
          { role: 'user', content: 'A tent brief' },
        ],
      ),
      JSON.stringify(s.passages ?? []),
    ],
  )
}

/** A finished evaluation run of `task` with 20 cases: each arm passes its first `passed` cases. */
async function seedEvaluation(task: string, arms: { name: string; model: string; passed: number }[]) {
  const { rows } = await t.db.pool.query<{ id: string }>(
    `INSERT INTO eval_sets (task_id, name, version, source, params, case_count, content_hash)
     SELECT id, 'cases', 1, 'upload', '{}'::jsonb, 20, 'seeded' FROM tasks WHERE name = $1 RETURNING id`,
    [task],
  )
  const run = await insertEvalRun(t.db.pool, {
    evalSetId: rows[0]!.id,
    params: {
      task,
      arms: arms.map((a) => ({
        name: a.name,
        taskVersion: 1,
        model: a.model,
        promptVariant: 'as_served',
        retrieval: 'on',
      })),
      judge: null,
      repetitions: 1,
      budgetUsd: null,
      concurrency: 4,
    },
    baselineRunId: null,
    createdBy: null,
  })
  const job = await insertKindJob(t.db.pool, { kind: 'eval', options: { runId: run.id } })
  await t.db.pool.query(`UPDATE ingest_jobs SET status = 'succeeded', finished_at = now() WHERE id = $1`, [
    job.id,
  ])
  await setEvalRunJob(t.db.pool, run.id, job.id)
  for (const [arm, spec] of arms.entries())
    for (let ordinal = 1; ordinal <= 20; ordinal++)
      await insertEvalResult(t.db.pool, run.id, {
        caseOrdinal: ordinal,
        arm,
        repetition: 0,
        status: 'succeeded',
        output: 'Copy.',
        error: null,
        model: spec.model,
        promptTokens: 2000,
        completionTokens: 200,
        costUsd: null,
        latencyMs: 100,
        invalidCitations: [],
        citedPassages: 0,
        checks: [{ name: 'format', type: 'regex', pass: ordinal <= spec.passed }],
        judge: null,
        judgeCostUsd: null,
      })
  return run.id
}

async function insights(task: string, query = '') {
  const res = await t.request(`/v1/tasks/${task}/insights${query}`, { key: t.adminKey })
  expect(res.status).toBe(200)
  return json(res)
}

const codes = (body: { verdict: { reasons: { code: string }[] } }) => body.verdict.reasons.map((r) => r.code)

describe('GET /v1/tasks/{name}/insights: the verdict', () => {
  it('not_enough_data: fewer than 100 calls in the window', async () => {
    const v = await putTask('quiet', { strategy: 'foundation', foundationModel: 'gpt-4o' })
    await seed({ versionId: v, n: 40, model: 'gpt-4o', spanHours: 48 })
    const body = await insights('quiet')
    expect(body.verdict.decision).toBe('not_enough_data')
    expect(body.verdict.reasons[0]).toMatchObject({
      code: 'few_calls',
      numbers: { calls: 40, minCalls: 100, windowDays: 30 },
    })
    expect(body.verdict.reasons[0].message).toContain('40 calls in the last 30 days')
  })

  it('keep_prompting: under 10,000 calls a month', async () => {
    const v = await putTask('low', { strategy: 'foundation', foundationModel: 'gpt-4o' })
    // 300 calls over 29.5 days: covered 30 days, 300 ÷ 30 × 30 = 300 a month.
    await seed({ versionId: v, n: 300, model: 'gpt-4o', spanHours: 29.5 * 24, approved: 300 })
    const body = await insights('low')
    expect(body.window.coveredDays).toBe(30)
    expect(body.volume).toMatchObject({ calls: 300, projectedMonthly: 300, callsPerDay: 10 })
    expect(body.verdict.decision).toBe('keep_prompting')
    expect(codes(body)).toEqual(['low_volume'])
    expect(body.verdict.reasons[0].numbers).toMatchObject({
      projectedMonthly: 300,
      lowVolumePerMonth: 10_000,
    })
  })

  it('keep_prompting: requirements that change weekly, whatever the volume', async () => {
    let v = 0
    for (let i = 1; i <= 6; i++)
      v = await putTask(
        'churn',
        { strategy: 'foundation', foundationModel: 'gpt-4o' },
        {
          systemPrompt: `Rule set ${i}.\n\n{{context}}`,
        },
      )
    // 1,000 calls in the last 23 hours: covered 1 day, 30,000 a month. 6 versions: 5 requirement changes,
    // 5 × 7 ÷ 30 = 1.17 a week.
    await seed({ versionId: v, n: 1000, model: 'gpt-4o', spanHours: 23, approved: 600 })
    const body = await insights('churn')
    expect(body.volume.projectedMonthly).toBe(30_000)
    expect(body.stability).toMatchObject({ versionsInWindow: 6, requirementChanges: 5, changesPerWeek: 1.17 })
    expect(body.verdict.decision).toBe('keep_prompting')
    expect(codes(body)).toEqual(['changing'])
    expect(body.verdict.reasons[0].numbers).toMatchObject({ requirementChanges: 5, changesPerWeek: 1.17 })
  })

  it('collect_examples: a stable, busy task with fewer than 500 clean examples', async () => {
    const v = await putTask('growing', { strategy: 'foundation', foundationModel: 'gpt-4o' })
    // A route-only change is not a requirement change.
    await putTask('growing', { strategy: 'foundation', foundationModel: 'gpt-4o-mini' })
    await seed({
      versionId: v,
      n: 1000,
      model: 'gpt-4o',
      spanHours: 23,
      approved: 120,
      rejected: 50,
      corrected: 30,
    })
    const body = await insights('growing')
    expect(body.stability).toMatchObject({ versionsInWindow: 2, requirementChanges: 0 })
    expect(body.examples).toMatchObject({
      clean: 150,
      approved: 120,
      corrected: 30,
      target: 500,
      missing: 350,
    })
    expect(body.verdict.decision).toBe('collect_examples')
    expect(body.verdict.reasons[0]).toMatchObject({
      code: 'few_examples',
      numbers: { cleanExamples: 150, target: 500 },
    })
    const arm = body.arms.find((a: { arm: string }) => a.arm === 'foundation')
    // 120 of 200 reviewed approved; 30 corrected.
    expect(arm.review).toMatchObject({
      reviewed: 200,
      approved: 120,
      approvalRate: 0.6,
      correctionRate: 0.15,
    })
  })

  it('try_fine_tune: distilling a prompted gpt-4o into a fine-tuned gpt-4o-mini pays back in days', async () => {
    const v = await putTask('steady', { strategy: 'foundation', foundationModel: 'gpt-4o' })
    await seed({ versionId: v, n: 1000, model: 'gpt-4o', spanHours: 23, approved: 600 })
    const { rows } = await t.db.pool.query<{ id: number }>(`SELECT id FROM tasks WHERE name = 'steady'`)
    const datasetId = await insertDataset(t.db.pool, {
      taskId: rows[0]!.id,
      params: {},
      baseModel: 'gpt-4o-mini',
      status: 'ready',
      counts: { train: 540, validation: 60 },
      tokenStats: {},
      report: { estimate: { costUsd: 30 } },
      createdBy: null,
    })
    const body = await insights('steady')
    // Base: 2000 × 2.5 + 200 × 10 per 1M = $0.007. Fine-tuned gpt-4o-mini: 2000 × 0.3 + 200 × 1.2 per 1M =
    // $0.00084. Saving $0.00616 a call; training $30 (the dataset's estimate) pays back after
    // ceil(30 ÷ 0.00616) = 4,871 calls, 4.871 days at 1,000 a day.
    expect(body.breakEven).toMatchObject({
      priced: true,
      fineTunedModel: 'gpt-4o-mini',
      baseCostPerCallUsd: 0.007,
      fineTunedCostPerCallUsd: 0.00084,
      savingPerCallUsd: 0.00616,
      trainingCostUsd: 30,
      trainingCostSource: 'dataset',
      paybackCalls: 4871,
      paybackDays: 4.9,
    })
    expect(body.examples.latestDataset).toMatchObject({ id: datasetId, estimatedTrainingUsd: 30 })
    expect(body.verdict.decision).toBe('try_fine_tune')
    expect(codes(body)).toEqual(['saving', 'volume', 'stable', 'enough_examples'])
    expect(body.verdict.reasons[0].message).toContain('pays back after 4,871 calls')
  })

  it('never_breaks_even: fine-tuning the same model without shortening the prompt costs more per call', async () => {
    const v = await putTask('same-model', { strategy: 'foundation', foundationModel: 'gpt-4o' })
    await seed({ versionId: v, n: 1000, model: 'gpt-4o', spanHours: 23, approved: 600 })
    const body = await insights('same-model')
    // Fine-tuned gpt-4o: 2000 × 3.75 + 200 × 15 per 1M = $0.0105 against $0.007: −$0.0035 a call.
    // Training, estimated: 600 examples × 2,200 tokens × 3 epochs × $25 per 1M = $99.
    expect(body.breakEven).toMatchObject({
      baseCostPerCallUsd: 0.007,
      fineTunedCostPerCallUsd: 0.0105,
      savingPerCallUsd: -0.0035,
      trainingCostUsd: 99,
      trainingCostSource: 'estimate',
      paybackCalls: null,
    })
    expect(body.verdict.decision).toBe('never_breaks_even')
    expect(body.verdict.reasons[0]).toMatchObject({
      code: 'no_saving',
      numbers: { savingPerCallUsd: -0.0035 },
    })
  })

  it('never_breaks_even: an hourly-billed deployment at this volume costs more than it saves', async () => {
    const v = await putTask('hosted', {
      strategy: 'split',
      share: 0.5,
      foundationModel: 'gpt-4o',
      fineTunedModel: HOSTED,
    })
    await seed({ versionId: v, n: 500, model: 'gpt-4o', spanHours: 23 })
    await seed({ versionId: v, n: 500, model: HOSTED, arm: 'fine_tuned', spanHours: 23, costUsd: 0.00084 })
    const body = await insights('hosted')
    // $5 an hour × 730 hours ÷ 30,000 calls a month = $0.12166667 a call of hosting.
    expect(body.breakEven.hostingPerCallUsd).toBeCloseTo(0.12166667, 8)
    expect(body.breakEven.fineTunedCostPerCallUsd).toBeCloseTo(0.12250667, 8)
    expect(body.candidate).toMatchObject({ model: HOSTED, state: 'live', strategy: 'split' })
    const hosted = body.models.find((m: { id: string }) => m.id === HOSTED)
    expect(hosted).toMatchObject({
      role: 'candidate',
      kind: 'fine_tuned',
      priced: true,
      shutdownDate: '2099-01-01',
    })
    const days = (Date.parse('2099-01-01T00:00:00Z') - Date.now()) / 86_400_000
    expect(Math.abs(hosted.daysUntilShutdown - days)).toBeLessThanOrEqual(1)
    expect(body.verdict.decision).toBe('never_breaks_even')
    expect(body.verdict.reasons[0].code).toBe('no_saving')
  })

  it('not_enough_data: an unpriced model blocks the money verdict, and its cost is unknown, never $0', async () => {
    const v = await putTask('unpriced', { strategy: 'foundation', foundationModel: 'mystery-model' })
    await seed({ versionId: v, n: 1000, model: 'mystery-model', spanHours: 23, approved: 600, costUsd: null })
    const body = await insights('unpriced')
    expect(body.verdict.decision).toBe('not_enough_data')
    expect(body.verdict.reasons[0].code).toBe('unpriced')
    expect(body.verdict.reasons[0].message).toContain('mystery-model has no input or output price')
    expect(body.verdict.reasons[0].message).toContain('mystery-model has no training price')
    expect(body.breakEven).toMatchObject({ priced: false, baseCostPerCallUsd: null, savingPerCallUsd: null })
    const arm = body.arms.find((a: { arm: string }) => a.arm === 'foundation')
    expect(arm).toMatchObject({ costUsd: null, costPerCallUsd: null, unpricedCalls: 1000 })
    expect(arm.models[0]).toMatchObject({ model: 'mystery-model', priced: false, costUsd: null })
    expect(body.volume.perDay.some((d: { costUsd: number | null }) => d.costUsd === null)).toBe(true)
  })

  it('promote: a staged fine-tuned model that holds up in evaluation and costs less', async () => {
    const v = await putTask('staged', { strategy: 'foundation', foundationModel: 'gpt-4o' })
    await putTask(
      'staged',
      { strategy: 'split', share: 0.1, foundationModel: 'gpt-4o', fineTunedModel: FT },
      {
        activate: false,
      },
    )
    await seed({ versionId: v, n: 1000, model: 'gpt-4o', spanHours: 23 })
    // 17 of 20 against 18 of 20: 5 points behind, exactly the margin.
    const runId = await seedEvaluation('staged', [
      { name: 'base', model: 'gpt-4o', passed: 18 },
      { name: 'tuned', model: FT, passed: 17 },
    ])
    const body = await insights('staged')
    expect(body.candidate).toMatchObject({ model: FT, state: 'staged', version: 2 })
    expect(body.evaluation).toMatchObject({
      runId,
      candidate: { arm: 'tuned', rate: 0.85, decided: 20 },
      foundation: { arm: 'base', rate: 0.9, decided: 20 },
    })
    expect(body.verdict.decision).toBe('promote')
    expect(codes(body)).toEqual(['evaluation_held', 'saving'])
    expect(body.verdict.reasons[0].numbers).toMatchObject({ difference: -0.05, margin: 0.05 })
    expect(body.verdict.reasons[1].numbers).toMatchObject({ savingPerCallUsd: 0.00616 })
    const base = body.arms[0].models[0]
    expect(base.evaluation).toMatchObject({ runId, arm: 'base', passRate: 0.9, decided: 20 })
  })

  it('after a rollback, the withdrawn model is no longer a candidate: the verdict is about prompting again', async () => {
    const v = await putTask('withdrawn', { strategy: 'foundation', foundationModel: 'gpt-4o' })
    await putTask(
      'withdrawn',
      { strategy: 'fine_tuned', foundationModel: 'gpt-4o', fineTunedModel: FT },
      {
        activate: false,
      },
    )
    await seed({ versionId: v, n: 1000, model: 'gpt-4o', spanHours: 23, approved: 100 })
    expect((await insights('withdrawn')).candidate).toMatchObject({ model: FT, state: 'staged', version: 2 })
    await t.db.pool.query(
      `INSERT INTO promotions (task_id, action, model, strategy, from_version, to_version)
       SELECT id, 'rollback', 'gpt-4o', 'foundation', 2, 1 FROM tasks WHERE name = 'withdrawn'`,
    )
    const body = await insights('withdrawn')
    expect(body.candidate).toBeNull()
    expect(body.verdict.decision).toBe('collect_examples')
  })

  it('roll_back: a live fine-tuned arm that reviewers approve less and that keeps falling back', async () => {
    const v = await putTask('live', {
      strategy: 'split',
      share: 0.5,
      foundationModel: 'gpt-4o',
      fineTunedModel: FT,
    })
    await seed({ versionId: v, n: 500, model: 'gpt-4o', spanHours: 23, approved: 36, rejected: 4 })
    await seed({
      versionId: v,
      n: 500,
      model: FT,
      arm: 'fine_tuned',
      spanHours: 23,
      costUsd: 0.00084,
      approved: 12,
      rejected: 20,
      corrected: 8,
      fellBack: 120,
    })
    const body = await insights('live')
    expect(body.verdict.decision).toBe('roll_back')
    expect(codes(body)).toEqual(['approval_lower', 'fallbacks'])
    // Wilson 95%: 12 of 40 → [0.1807, 0.4543]; 36 of 40 → [0.7695, 0.9604].
    const [approval, fallbacks] = body.verdict.reasons
    expect(approval.numbers.candidateApprovalRate).toBe(0.3)
    expect(approval.numbers.candidateHigh).toBeCloseTo(0.4543, 4)
    expect(approval.numbers.foundationLow).toBeCloseTo(0.7695, 4)
    // 120 of 500 fell back: 24% over the 20% limit.
    expect(fallbacks.numbers).toMatchObject({ calls: 500, fellBack: 120, rate: 0.24, limit: 0.2 })
    const tuned = body.arms.find((a: { arm: string }) => a.arm === 'fine_tuned')
    expect(tuned).toMatchObject({ calls: 500, fellBack: 120, fallbackRate: 0.24 })
    expect(tuned.review).toMatchObject({ reviewed: 40, approved: 12, corrected: 8, correctionRate: 0.2 })
  })
})

describe('GET /v1/tasks/{name}/insights: prompt composition', () => {
  it('splits the prompt into instructions, passages and input, and counts what the fine-tuned template saves', async () => {
    const full = 'You write product copy for outdoor gear. Never promise waterproofing.\n\n{{context}}'
    const short = 'Product copy.\n\n{{context}}'
    const v = await putTask(
      'composed',
      { strategy: 'foundation', foundationModel: 'gpt-4o', fineTunedSystemPrompt: short },
      { systemPrompt: full },
    )
    const passage = {
      sourceId: 'tents.md',
      title: 'Tents',
      headingPath: 'Tents > Care',
      text: 'Dry the tent.',
    }
    const system = systemText(full, {}, [passage])
    await seed({
      versionId: v,
      n: 10,
      model: 'gpt-4o',
      spanHours: 2,
      messages: [
        { role: 'system', content: system },
        { role: 'user', content: 'A tent brief' },
      ],
      passages: [{ ...passage, documentId: 1, kind: 'guideline', chunkIds: [1] }],
    })
    const body = await insights('composed')
    const [foundation, fineTuned] = body.promptComposition.byTemplate
    const block = system.slice(system.indexOf('<reference_data>'))
    expect(block.endsWith('</reference_data>')).toBe(true)
    expect(foundation).toEqual({
      template: 'foundation',
      sampled: 10,
      meanTokens: {
        instructions: countTokens(system.replace(block, ''), 'o200k_base'),
        passages: countTokens(block, 'o200k_base'),
        // "A| tent| brief"
        input: 3,
      },
    })
    expect(foundation.meanTokens.passages).toBeGreaterThan(20)
    expect(fineTuned).toEqual({ template: 'fine_tuned', sampled: 0, meanTokens: null })
    // The templates without their passages: 13 tokens against 3 ("Product| copy|.\\n\\n").
    const fullTokens = 13
    expect(body.promptComposition.template).toEqual({
      foundationTokens: fullTokens,
      fineTunedTokens: 3,
      savedTokens: fullTokens - 3,
    })
    // At gpt-4o's fine-tuned input price, $3.75 per 1M.
    expect(body.promptComposition.savedUsdPerCall).toBeCloseTo(((fullTokens - 3) * 3.75) / 1e6, 10)
  })
})

describe('GET /v1/tasks/{name}/insights: requests', () => {
  it('refuses a malformed window and an unknown task with problem+json', async () => {
    for (const window of ['0d', '30', 'abc', '400d']) {
      const res = await t.request(`/v1/tasks/low/insights?window=${window}`, { key: t.adminKey })
      expect(res.status).toBe(400)
      expect(res.headers.get('content-type')).toContain('application/problem+json')
    }
    const missing = await t.request('/v1/tasks/nope/insights', { key: t.adminKey })
    expect(missing.status).toBe(404)
  })

  it('is open to review keys and closed to generate keys', async () => {
    const reviewer = await t.makeKey(['review'])
    expect((await t.request('/v1/tasks/low/insights', { key: reviewer.key })).status).toBe(200)
    const app = await t.makeKey(['generate'])
    expect((await t.request('/v1/tasks/low/insights', { key: app.key })).status).toBe(403)
  })

  it('shows a key limited to some collections only the generations of its collections', async () => {
    await t.db.pool.query(
      `INSERT INTO collections (name, embedding_model, embedding_dimensions) VALUES ('team-a', 'm', 8), ('team-b', 'm', 8)`,
    )
    const v = await putTask(
      'scoped',
      { strategy: 'foundation', foundationModel: 'gpt-4o' },
      {
        retrieval: { collection: 'team-a' },
      },
    )
    await seed({ versionId: v, n: 150, model: 'gpt-4o', spanHours: 23, collection: 'team-a' })
    await seed({ versionId: v, n: 50, model: 'gpt-4o', spanHours: 23, collection: 'team-b' })
    expect((await insights('scoped')).volume.calls).toBe(200)
    const teamA = await t.makeKey(['admin'], ['team-a'])
    const limited = await t.request('/v1/tasks/scoped/insights', { key: teamA.key })
    expect(limited.status).toBe(200)
    expect((await json(limited)).volume.calls).toBe(150)
    const teamB = await t.makeKey(['review'], ['team-b'])
    expect((await t.request('/v1/tasks/scoped/insights', { key: teamB.key })).status).toBe(404)
  })

  it('narrows the window: 7 days of a 29.5-day spread', async () => {
    const body = await insights('low', '?window=7d')
    // Calls every 2.36 hours: those under 7 days old.
    expect(body.window.days).toBe(7)
    // i × 29.5 ÷ 300 days < 7 for i up to 71.
    expect(body.volume.calls).toBe(71)
    expect(body.volume.perDay.length).toBeGreaterThanOrEqual(7)
  })
})
