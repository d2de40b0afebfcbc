import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { claimJob } from '../../src/db/ingest-jobs.js'
import { wilson } from '../../src/evals/statistics.js'
import {
  createGenerationFixture,
  FINE_TUNED,
  FOUNDATION,
  type GenerationFixture,
  textTask,
} from '../generation/generation-fixture.js'
import { json } from '../support/test-app.js'

const JUDGE = 'judge-model'
const GOOD = 'Acme Trailblazer tent, waterproof and light [1].'
let f: GenerationFixture
let setId = ''

const post = (path: string, body: unknown) =>
  f.t.request(path, { method: 'POST', key: f.t.adminKey, json: body })
const getRun = async (id: string) => json(await f.t.request(`/v1/eval-runs/${id}`, { key: f.t.adminKey }))
const chatCalls = (model: string) =>
  f.stub.calls.filter((call) => call.path === '/v1/chat/completions' && call.body.model === model)

/** Start a run and let a worker take it to the end. */
async function runToEnd(body: Record<string, unknown>): Promise<any> {
  const res = await post('/v1/eval-runs', body)
  expect(res.status).toBe(202)
  const { id, jobId } = await json(res)
  await f.workOn(jobId).done
  return getRun(id)
}

const ARMS = [
  { name: 'prompted', model: FOUNDATION },
  { name: 'tuned', model: FINE_TUNED, promptVariant: 'fine_tuned' },
]

beforeAll(async () => {
  f = await createGenerationFixture({
    // Runs make many calls; under a loaded machine the fixture's 800 ms would fail some of them.
    MODEL_TIMEOUT_MS: '15000',
    MODELS_JSON: JSON.stringify({
      models: {
        [FOUNDATION]: { inputPricePer1M: 0.15, outputPricePer1M: 0.6 },
        // The fine-tuned model has no price: its cost is unknown, never 0.
        [FINE_TUNED]: {},
        [JUDGE]: { inputPricePer1M: 1, outputPricePer1M: 2 },
      },
    }),
  })
  const route = {
    strategy: 'foundation',
    foundationModel: FOUNDATION,
    fineTunedModel: FINE_TUNED,
    fineTunedSystemPrompt: 'Short copy for {{brand}}.\n\n{{context}}',
  }
  expect((await f.putTask('evr', textTask({ route }))).status).toBe(201)
  f.stub.setReply(FOUNDATION, GOOD)
  // The fine-tuned model cites a passage it was never given and forgets the brand.
  f.stub.setReply(FINE_TUNED, 'A light tent [7].')
  const cases = ['one', 'two', 'three', 'four'].map((n) => ({
    input: `Case ${n}: tent copy`,
    variables: { brand: 'Acme' },
    reference: GOOD,
  }))
  const set = await json(
    await post('/v1/eval-sets', {
      task: 'evr',
      name: 'copy',
      cases,
      checks: [
        { type: 'icontains', value: 'acme' },
        { type: 'citations-valid' },
        { type: 'max-length', value: 12, unit: 'words' },
        { type: 'similarity', metric: 'rouge-l', min: 0.8 },
        { type: 'rubric', rubric: 'Names the brand and one product fact.', min: 4 },
      ],
    }),
  )
  setId = set.id
}, 180_000)
afterAll(async () => f?.close())

describe('POST /v1/eval-runs', () => {
  it('runs every case through each arm and reports them side by side, without touching serving data', async () => {
    await f.t.flush()
    const before = (await f.t.db.pool.query('SELECT count(*)::int AS n FROM generations')).rows[0].n
    const callsBefore = chatCalls(FINE_TUNED).length
    const run = await runToEnd({
      evalSetId: setId,
      arms: [...ARMS, { name: 'no-retrieval', model: FOUNDATION, retrieval: 'off' }],
    })
    expect(run.status).toBe('succeeded')
    expect(run.progress).toMatchObject({ unit: 'results', total: 12, done: 12, phase: 'done' })
    const [prompted, tuned, bare] = run.report.arms
    expect(prompted).toMatchObject({
      name: 'prompted',
      model: FOUNDATION,
      results: 4,
      failed: 0,
      taskVersion: 1,
    })
    expect(prompted.checks.icontains).toEqual({ passed: 4, decided: 4, rate: 1, interval: wilson(4, 4) })
    expect(prompted.checks.similarity).toMatchObject({ passed: 4, rate: 1 })
    // No judge in this run: rubric checks are undecided, not failed.
    expect(prompted.checks.rubric).toEqual({ passed: 0, decided: 0, rate: null, interval: null })
    expect(prompted.judge).toBeNull()
    expect(tuned.checks.icontains).toMatchObject({ passed: 0, decided: 4, rate: 0 })
    expect(tuned.checks['citations-valid'].rate).toBe(0)
    expect(tuned.invalidCitations).toBe(4)
    // Without retrieval, [1] names a passage that was not supplied.
    expect(bare.checks['citations-valid'].rate).toBe(0)
    expect(prompted.cost.totalUsd).toBeGreaterThan(0)
    expect(prompted.cost.perCaseUsd).toBeCloseTo(prompted.cost.totalUsd / 4, 8)
    expect(tuned.cost).toMatchObject({ totalUsd: null, perCaseUsd: null, unpricedResults: 4 })
    expect(prompted.latencyMs.p50).toBeGreaterThan(0)
    expect(prompted.latencyMs.p95).toBeGreaterThanOrEqual(prompted.latencyMs.p50)
    expect(prompted.tokens.prompt).toBeGreaterThan(0)
    expect(run.report.differences.map((d: { ordinal: number }) => d.ordinal)).toEqual([1, 2, 3, 4])
    expect(run.report.differences[0].failedChecks[1]).toEqual(
      expect.arrayContaining(['icontains', 'citations-valid', 'similarity']),
    )
    // The fine-tuned arm was sent the short template; nothing was logged as a generation.
    const tunedCalls = chatCalls(FINE_TUNED).slice(callsBefore)
    expect(tunedCalls).toHaveLength(4)
    expect(JSON.stringify(tunedCalls[0]!.body.messages)).toContain('Short copy for Acme.')
    await f.t.flush()
    expect((await f.t.db.pool.query('SELECT count(*)::int AS n FROM generations')).rows[0].n).toBe(before)
  })

  it('with a judge: three repetitions by default, a mean score with its interval, unstable cases flagged', async () => {
    let flips = 0
    f.stub.setJudge(JUDGE, ({ user }) =>
      user.includes('Case one')
        ? { score: flips++ % 2 === 0 ? 5 : 2, reasons: 'flaky' }
        : { score: 4, reasons: 'fine' },
    )
    const run = await runToEnd({ evalSetId: setId, arms: [ARMS[0]], judge: { model: JUDGE } })
    expect(run.params.repetitions).toBe(3)
    const [arm] = run.report.arms
    expect(arm.results).toBe(12)
    expect(arm.judge.scored).toBe(12)
    expect(arm.judge.unstableCases).toEqual([1])
    // Case one scored 5, 2, 5 (in some order); the rest 4: mean 48/12.
    expect(arm.judge.mean).toBeCloseTo(4, 10)
    expect(arm.judge.interval.low).toBeLessThan(arm.judge.mean)
    expect(arm.checks.rubric).toMatchObject({ passed: 11, decided: 12 })
    // Judge calls are priced and counted in the arm's cost.
    expect(arm.cost.totalUsd).toBeGreaterThan(0)
    expect(chatCalls(JUDGE).length).toBe(12)
  })

  it('compares each arm with the first by the judge, in a random order, ties counted half', async () => {
    // A judge that prefers whichever output names the brand, wherever it is shown.
    f.stub.setJudge(JUDGE, ({ system, user }) => {
      if (!system.includes('compare two outputs')) return { score: 4, reasons: 'fine' }
      const a = user.slice(user.indexOf('Output A:'), user.indexOf('Output B:'))
      const b = user.slice(user.indexOf('Output B:'))
      return { winner: a.includes('Acme') === b.includes('Acme') ? 'tie' : a.includes('Acme') ? 'A' : 'B' }
    })
    const run = await runToEnd({ evalSetId: setId, arms: ARMS, judge: { model: JUDGE }, repetitions: 2 })
    expect(run.status).toBe('succeeded')
    const [prompted, tuned] = run.report.arms
    expect(prompted.pairwise).toBeNull()
    expect(tuned.pairwise).toMatchObject({
      against: 'prompted',
      compared: 8,
      wins: 0,
      winRate: 0,
      interval: wilson(0, 8),
    })
    const { rows } = await f.t.db.pool.query(
      "SELECT (judge->'pairwise'->>'swapped')::boolean AS swapped FROM eval_results WHERE run_id = $1 AND arm = 1",
      [run.id],
    )
    // Both orders were shown, and the verdict followed the output, not the position.
    expect(new Set(rows.map((r: { swapped: boolean }) => r.swapped))).toEqual(new Set([true, false]))
  })

  it('reports how often the judge agrees with reviewers on outputs they reviewed', async () => {
    const { rows } = await f.t.db.pool.query(
      "SELECT tv.id FROM task_versions tv JOIN tasks t ON t.id = tv.task_id WHERE t.name = 'evr' ORDER BY tv.version DESC LIMIT 1",
    )
    const version = rows[0].id
    const TUNED_OUTPUT = 'A light tent [7].'
    // Served generations with the outputs the arms will give: reviewers approved the prompted one (two
    // approvals outweigh one rejection) and corrected the fine-tuned one. Unreviewed ones and ones outside
    // the task do not count.
    const served: [string, string, number | null][] = [
      [GOOD, 'approved', version],
      [GOOD, 'approved', version],
      [GOOD, 'rejected', version],
      [GOOD, 'unreviewed', version],
      [TUNED_OUTPUT, 'corrected', version],
      [TUNED_OUTPUT, 'approved', null],
      [TUNED_OUTPUT, 'approved', null],
    ]
    for (const [output, state, versionId] of served)
      await f.t.db.pool.query(
        `INSERT INTO generations (request_id, task_version_id, output, status, review_state)
         VALUES ('agreement-test', $1, $2, 'succeeded', $3)`,
        [versionId, output, state],
      )
    // A lenient judge: passes everything but the prompted answer to case one.
    f.stub.setJudge(JUDGE, ({ system, user }) => {
      if (system.includes('compare two outputs')) return { winner: 'tie' }
      const strict =
        user.includes('Case one') && user.slice(user.indexOf('Output to grade:')).includes('Acme')
      return strict ? { score: 2, reasons: 'strict' } : { score: 4, reasons: 'fine' }
    })
    try {
      const run = await runToEnd({ evalSetId: setId, arms: ARMS, judge: { model: JUDGE }, repetitions: 1 })
      expect(run.status).toBe('succeeded')
      const [prompted, tuned] = run.report.arms
      expect(prompted.reviewerAgreement).toEqual({
        compared: 4,
        agreed: 3,
        rate: 0.75,
        interval: wilson(3, 4),
        judgeLenient: 0,
        judgeStrict: 1,
      })
      expect(tuned.reviewerAgreement).toMatchObject({
        compared: 4,
        agreed: 0,
        judgeLenient: 4,
        judgeStrict: 0,
      })
      expect(run.report.reviewerAgreement).toMatchObject({
        compared: 8,
        agreed: 3,
        judgeLenient: 4,
        judgeStrict: 1,
      })
    } finally {
      await f.t.db.pool.query("DELETE FROM generations WHERE request_id = 'agreement-test'")
    }
  })

  it('lists a task’s runs newest first, of one set if asked, with status and progress', async () => {
    const run = await runToEnd({ evalSetId: setId, arms: [ARMS[0]] })
    const res = await f.t.request(`/v1/eval-runs?task=evr&evalSetId=${setId}&limit=1`, { key: f.t.adminKey })
    expect(res.status).toBe(200)
    const { data } = await json(res)
    expect(data).toEqual([
      {
        id: run.id,
        evalSetId: setId,
        set: { name: 'copy', version: 1 },
        status: 'succeeded',
        progress: { done: 4, total: 4 },
        stoppedReason: null,
        arms: [
          {
            name: 'prompted',
            taskVersion: 1,
            model: FOUNDATION,
            promptVariant: 'as_served',
            retrieval: 'on',
          },
        ],
        judge: null,
        repetitions: 1,
        createdAt: run.createdAt,
        finishedAt: run.finishedAt,
      },
    ])
    const all = await json(await f.t.request('/v1/eval-runs?task=evr', { key: f.t.adminKey }))
    expect(all.data.length).toBeGreaterThan(1)
    const other = '00000000-0000-4000-8000-000000000000'
    const none = await json(
      await f.t.request(`/v1/eval-runs?task=evr&evalSetId=${other}`, { key: f.t.adminKey }),
    )
    expect(none.data).toEqual([])
    const limited = await f.t.makeKey(['admin'], ['elsewhere'])
    expect((await f.t.request('/v1/eval-runs?task=evr', { key: limited.key })).status).toBe(404)
  })

  it('stops before the estimated spend would pass the budget, even with calls in parallel', async () => {
    // Four workers: without a first result to estimate from, all four would start at once.
    const run = await runToEnd({ evalSetId: setId, arms: [ARMS[0]], budgetUsd: 1e-9, concurrency: 4 })
    expect(run.status).toBe('cancelled')
    expect(run.stoppedReason).toMatch(/budget/)
    expect(run.error).toMatch(/budget/)
    expect(run.report.arms[0].results).toBe(1)
    expect(run.progress.phase).toBe('stopped')
  })

  it('resumes after its worker died without repeating a finished case × arm × repetition', async () => {
    const res = await post('/v1/eval-runs', {
      evalSetId: setId,
      arms: [ARMS[0]],
      repetitions: 2,
      concurrency: 1,
    })
    const { id, jobId } = await json(res)
    const job = (await claimJob(f.t.db.pool, 'dies', 60_000, jobId, ['eval']))!
    const dies = new AbortController()
    let calls = 0
    f.stub.setReply(FOUNDATION, () => {
      if (++calls === 3) dies.abort()
      return GOOD
    })
    try {
      expect(await f.t.services.jobHandlers.eval!(job, { workerId: 'dies', signal: dies.signal })).toBe(
        'stopped',
      )
      const stored = (await getRun(id)).report.arms[0].results
      expect(stored).toBe(2)
      await f.t.db.pool.query(
        "UPDATE ingest_jobs SET locked_until = now() - interval '1 second' WHERE id = $1",
        [jobId],
      )
      calls = 0
      await f.workOn(jobId).done
      const run = await getRun(id)
      expect(run.status).toBe('succeeded')
      expect(run.report.arms[0].results).toBe(8)
      // Only the 6 results not stored were generated again.
      expect(calls).toBe(6)
      expect(run.progress).toMatchObject({ done: 8, attempt: { doneAtStart: 2 } })
    } finally {
      f.stub.setReply(FOUNDATION, GOOD)
    }
  })

  it('is cancelled mid-run through POST /v1/eval-runs/{id}/cancel', async () => {
    f.stub.setModelLatency(FOUNDATION, 100)
    try {
      const res = await post('/v1/eval-runs', {
        evalSetId: setId,
        arms: [ARMS[0]],
        repetitions: 10,
        concurrency: 1,
      })
      const { id, jobId } = await json(res)
      const worker = f.workOn(jobId, { leaseMs: 1000 })
      for (let i = 0; i < 200 && ((await getRun(id)).progress?.done ?? 0) < 1; i++)
        await new Promise((r) => setTimeout(r, 25))
      const cancelled = await json(
        await f.t.request(`/v1/eval-runs/${id}/cancel`, { method: 'POST', key: f.t.adminKey }),
      )
      expect(cancelled.status).toBe('running')
      await worker.done
      const run = await getRun(id)
      expect(run.status).toBe('cancelled')
      expect(run.report.arms[0].results).toBeLessThan(40)
    } finally {
      f.stub.setModelLatency(FOUNDATION, null)
    }
  })

  it('reports the difference from a baseline run of the same set', async () => {
    const first = await runToEnd({
      evalSetId: setId,
      arms: [{ name: 'candidate', model: FINE_TUNED, promptVariant: 'fine_tuned' }],
    })
    f.stub.setReply(FINE_TUNED, GOOD)
    try {
      const second = await runToEnd({
        evalSetId: setId,
        arms: [{ name: 'candidate', model: FINE_TUNED, promptVariant: 'fine_tuned' }],
        baselineRunId: first.id,
      })
      expect(second.baseline.runId).toBe(first.id)
      expect(second.baseline.arms[0].checks.icontains).toEqual({ rate: 1, baseline: 0, delta: 1 })
    } finally {
      f.stub.setReply(FINE_TUNED, 'A light tent [7].')
    }
  })

  it('names every problem of a run that cannot start', async () => {
    expect(
      (await post('/v1/eval-runs', { evalSetId: '00000000-0000-4000-8000-000000000000', arms: [{}] })).status,
    ).toBe(404)
    expect((await f.putTask('plain', textTask())).status).toBe(201)
    const res = await post('/v1/eval-runs', {
      evalSetId: setId,
      arms: [{ taskVersion: 9 }, { name: 'x' }, { name: 'x' }],
      baselineRunId: '00000000-0000-4000-8000-000000000000',
    })
    expect(res.status).toBe(400)
    const paths = (await json(res)).errors.map((e: { path: string }) => e.path)
    expect(paths).toEqual(expect.arrayContaining(['arms.0.taskVersion', 'arms.2.name', 'baselineRunId']))
    const plainSet = await json(
      await post('/v1/eval-sets', {
        task: 'plain',
        name: 'p',
        cases: [{ input: 'a', variables: { brand: 'A' } }],
      }),
    )
    const noTemplate = await post('/v1/eval-runs', {
      evalSetId: plainSet.id,
      arms: [{ promptVariant: 'fine_tuned' }],
    })
    expect(noTemplate.status).toBe(400)
    expect((await json(noTemplate)).errors[0].path).toBe('arms.0.promptVariant')
  })
})
