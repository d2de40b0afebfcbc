import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { splitBucket } from '../../src/datasets/build-dataset.js'
import { claimJob, findJob } from '../../src/db/ingest-jobs.js'
import {
  createGenerationFixture,
  FOUNDATION,
  type GenerationFixture,
  textTask,
} from '../generation/generation-fixture.js'
import { json } from '../support/test-app.js'

let f: GenerationFixture
let datasetId = ''
let invalidDatasetId = ''

const post = (path: string, body: unknown) =>
  f.t.request(path, { method: 'POST', key: f.t.adminKey, json: body })
const get = async (path: string) => json(await f.t.request(path, { key: f.t.adminKey }))

beforeAll(async () => {
  f = await createGenerationFixture({ FINE_TUNE_POLL_MS: '10', FINE_TUNE_POLL_MAX_MS: '40' })
  expect((await f.putTask('tune', textTask())).status).toBe(201)
  const ids: string[] = []
  for (let i = 0; i < 14; i++) {
    f.stub.setReply(FOUNDATION, `Copy number ${i} [1].`)
    const res = await f.generate({ task: 'tune', input: `Tent brief ${i}`, variables: { brand: 'Acme' } })
    const { id } = await json(res)
    ids.push(id)
    await f.t.flush()
    const review = await f.t.request(`/v1/generations/${id}/feedback`, {
      method: 'PUT',
      key: f.t.adminKey,
      json: { approved: true, rating: 5 },
    })
    expect(review.status).toBe(200)
  }
  // The split hashes the (random) generation ids: pick a seed that leaves 10-12 examples in training, enough to
  // fine-tune on, and some in validation. A fixed seed put 5 or more of 14 in validation about one run in eight.
  const seed = Array.from({ length: 200 }, (_, n) => `s${n}`).find((candidate) => {
    const train = ids.filter((id) => splitBucket(candidate, id) >= 0.2).length
    return train >= 10 && train <= 12
  })
  const dataset = await json(await post('/v1/tasks/tune/datasets', { validationShare: 0.2, seed }))
  expect(dataset.status).toBe('not_ready') // valid, under the 500 mark
  datasetId = dataset.id
  const empty = await json(await post('/v1/tasks/tune/datasets', { versions: [9], seed: 's' }))
  expect(empty.status).toBe('invalid')
  invalidDatasetId = empty.id
})
afterAll(async () => f?.close())

describe('POST /v1/fine-tunes', () => {
  it('refuses with 409 and the reason, before any upload: budget, invalid dataset, shutdown, no training price', async () => {
    const refuse = async (body: Record<string, unknown>, detail: RegExp, status = 409) => {
      const res = await post('/v1/fine-tunes', {
        datasetId,
        baseModel: FOUNDATION,
        maxBudgetUsd: 10,
        ...body,
      })
      const problem = await json(res)
      expect(res.status, problem.detail).toBe(status)
      expect(problem.detail).toMatch(detail)
    }
    // 11 examples × 9 epochs (the default for few examples) of ~60 tokens at $3 per 1M: cents, not 1e-6.
    await refuse(
      { maxBudgetUsd: 0.000001 },
      /The estimate is \$0\.\d\d \(\d+ tokens × \d+ epochs at \$3 per 1M\), over maxBudgetUsd/,
    )
    await refuse({ datasetId: invalidDatasetId }, /is not valid/)
    await refuse({ baseModel: 'no-such-model' }, /Unknown base model no-such-model/, 400)
    const soon = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10)
    await f.t.request('/v1/model-registry/gpt-4o', {
      method: 'PATCH',
      key: f.t.adminKey,
      json: { shutdownDate: soon },
    })
    await refuse({ baseModel: 'gpt-4o' }, new RegExp(`gpt-4o shuts down on ${soon}, (29|30) days from now`))
    await post('/v1/model-registry', { id: 'untrainable' })
    await refuse({ baseModel: 'untrainable' }, /untrainable has no training price/)
    expect(f.stub.uploadedFiles()).toEqual([])
    expect(f.stub.fineTuneJobs()).toEqual([])
  })

  it('uploads, trains and follows the job, registers the model with fine-tuned prices and stages a 10% split', async () => {
    const res = await post('/v1/fine-tunes', {
      datasetId,
      baseModel: FOUNDATION,
      suffix: 'tune',
      hyperparameters: { n_epochs: 2 },
      maxBudgetUsd: 1,
    })
    expect(res.status).toBe(202)
    const created = await json(res)
    expect(created).toMatchObject({ status: 'pending', task: 'tune', share: 0.1, baseModel: FOUNDATION })
    expect(created.estimatedCostUsd).toBeGreaterThan(0)
    const worker = f.workOn(created.jobId)
    await worker.done
    const done = await get(`/v1/fine-tunes/${created.id}`)
    expect(done.status, done.error).toBe('succeeded')
    expect(done.fineTunedModel).toMatch(/^ft:gpt-4o-mini:onbrand-stub:tune:/)
    expect(done.events.length).toBeGreaterThan(2)
    // Oldest first, as they happened (the provider lists them newest first).
    expect(done.events[0].message).toMatch(/^Created fine-tuning job/)
    expect(done.events.at(-1).message).toMatch(/succeeded|completed/i)
    expect(done.checkpoints.length).toBeGreaterThan(0)
    const losses = done.checkpoints.map((c: { trainLoss: number }) => c.trainLoss)
    expect([...losses].sort((a, b) => b - a)).toEqual(losses)
    expect((await findJob(f.t.db.pool, created.jobId))?.status).toBe('succeeded')

    // The provider got the dataset's own files and the hyperparameters asked for.
    const [providerJob] = f.stub.fineTuneJobs()
    expect(providerJob).toMatchObject({ model: FOUNDATION, hyperparameters: { n_epochs: 2 } })
    const train = await (
      await f.t.request(`/v1/datasets/${datasetId}/train.jsonl`, { key: f.t.adminKey })
    ).text()
    expect(f.stub.uploadedFiles().find((u) => u.id === providerJob!.training_file)?.content).toBe(train)

    const model = await get(`/v1/model-registry/${encodeURIComponent(done.fineTunedModel)}`)
    expect(model).toMatchObject({
      kind: 'fine_tuned',
      baseModel: FOUNDATION,
      inputPricePer1M: 0.3,
      outputPricePer1M: 1.2,
      source: 'fine_tune',
      fineTuneId: created.id,
      providerJobId: providerJob!.id,
      datasetId,
    })
    const versions = (await get('/v1/tasks/tune/versions')).data
    const staged = versions.find((v: { version: number }) => v.version === done.stagedVersion)
    expect(staged.active).toBe(false)
    expect(staged.definition.route).toMatchObject({
      strategy: 'split',
      foundationModel: FOUNDATION,
      fineTunedModel: done.fineTunedModel,
      share: 0.1,
    })
    expect(versions.find((v: { active: boolean }) => v.active).version).toBe(1)
  })

  it('records the provider’s failure with its message, and registers nothing', async () => {
    f.stub.failNextFineTune({ code: 'invalid_training_file', message: 'Line 3 is not a chat example.' })
    const created = await json(
      await post('/v1/fine-tunes', { datasetId, baseModel: FOUNDATION, maxBudgetUsd: 1 }),
    )
    await f.workOn(created.jobId).done
    const failed = await get(`/v1/fine-tunes/${created.id}`)
    expect(failed.status).toBe('failed')
    expect(failed.error).toContain('invalid_training_file: Line 3 is not a chat example.')
    expect(failed.fineTunedModel).toBeNull()
    expect((await findJob(f.t.db.pool, created.jobId))?.error).toContain('Line 3')
  })

  it('cancels the provider’s job and the job following it', async () => {
    const created = await json(
      await post('/v1/fine-tunes', { datasetId, baseModel: FOUNDATION, maxBudgetUsd: 1 }),
    )
    const job = (await claimJob(f.t.db.pool, 'w1', 30_000, created.jobId, ['fine_tune']))!
    expect(
      await f.t.services.jobHandlers.fine_tune!(job, {
        workerId: 'w1',
        signal: new AbortController().signal,
      }),
    ).toBe('rescheduled')
    const following = await get(`/v1/fine-tunes/${created.id}`)
    expect(following.providerJobId).toBeTruthy()
    const res = await post(`/v1/fine-tunes/${created.id}/cancel`, {})
    expect(res.status).toBe(200)
    expect((await json(res)).status).toBe('cancelled')
    expect(f.stub.fineTuneJobs().find((j) => j.id === following.providerJobId)?.status).toBe('cancelled')
    expect((await findJob(f.t.db.pool, created.jobId))?.status).toBe('cancelled')
    expect((await post(`/v1/fine-tunes/${created.id}/cancel`, {})).status).toBe(409)
  })

  it('is followed across a worker that dies mid-way: nothing uploaded twice, one provider job', async () => {
    // Files we uploaded (the stub also stores the results files of finished jobs).
    const uploads = () => f.stub.uploadedFiles().filter((u) => u.purpose === 'fine-tune').length
    const uploadsBefore = uploads()
    const jobsBefore = f.stub.fineTuneJobs().length
    const created = await json(
      await post('/v1/fine-tunes', { datasetId, baseModel: FOUNDATION, maxBudgetUsd: 1 }),
    )
    // The first worker uploads both files, then dies while the provider is creating the job.
    f.stub.hangNext({ path: 'fine_tuning' })
    const dies = new AbortController()
    const job = (await claimJob(f.t.db.pool, 'dies', 30_000, created.jobId, ['fine_tune']))!
    const running = f.t.services.jobHandlers.fine_tune!(job, { workerId: 'dies', signal: dies.signal })
    await expect.poll(uploads, { timeout: 20_000 }).toBe(uploadsBefore + 2)
    await expect.poll(() => f.stub.activeRequests(), { timeout: 20_000 }).toBeGreaterThan(0)
    dies.abort()
    expect(await running).toBe('stopped')
    await f.t.db.pool.query(`UPDATE ingest_jobs SET status = 'queued', locked_by = NULL WHERE id = $1`, [
      created.jobId,
    ])

    await f.workOn(created.jobId).done
    const done = await get(`/v1/fine-tunes/${created.id}`)
    expect(done.status, done.error).toBe('succeeded')
    expect(uploads()).toBe(uploadsBefore + 2)
    expect(f.stub.fineTuneJobs().length).toBe(jobsBefore + 1)
  })
})

describe('a cancel while the provider is creating the job', () => {
  it('leaves no job training: the create is let finish, then the job is cancelled at the provider', async () => {
    const { fineTuneHandler } = await import('../../src/models/follow-fine-tune.js')
    const { createFineTuningClient } = await import('../../src/models/fine-tuning-client.js')
    let release = () => {}
    let creating = false
    const gate = new Promise<void>((resolve) => (release = resolve))
    const handler = fineTuneHandler({
      db: f.t.db.pool,
      models: f.t.services.models,
      logger: f.t.services.logger,
      pollMs: 10,
      maxPollMs: 40,
      clients: (settings) => {
        const real = createFineTuningClient(settings)
        return {
          ...real,
          createJob: async (body, signal) => {
            creating = true
            await gate
            return real.createJob(body, signal)
          },
        }
      },
    })
    const created = await json(
      await post('/v1/fine-tunes', { datasetId, baseModel: FOUNDATION, maxBudgetUsd: 1 }),
    )
    const job = (await claimJob(f.t.db.pool, 'w2', 30_000, created.jobId, ['fine_tune']))!
    const stop = new AbortController()
    const running = handler(job, { workerId: 'w2', signal: stop.signal })
    await expect.poll(() => creating, { timeout: 20_000 }).toBe(true)
    expect((await post(`/v1/fine-tunes/${created.id}/cancel`, {})).status).toBe(200)
    stop.abort() // what the worker's heartbeat does once it sees the cancel
    expect(await running).toBe('stopped')
    const jobsBefore = f.stub.fineTuneJobs().length
    release()
    await expect.poll(() => f.stub.fineTuneJobs().length, { timeout: 20_000 }).toBe(jobsBefore + 1)
    const providerJob = f.stub.fineTuneJobs().at(-1)!
    await expect.poll(() => f.stub.fineTuneJobs().at(-1)!.status, { timeout: 20_000 }).toBe('cancelled')
    const after = await get(`/v1/fine-tunes/${created.id}`)
    expect(after).toMatchObject({ status: 'cancelled', providerJobId: providerJob.id })
  })
})

describe('POST /v1/tasks/{name}/stage', () => {
  it('stages a model trained elsewhere as an inactive split version, and refuses an unknown one (400)', async () => {
    expect(
      (await post('/v1/model-registry', { id: 'ext-tuned', kind: 'fine_tuned', baseModel: 'llama' })).status,
    ).toBe(201)
    const res = await post('/v1/tasks/tune/stage', { model: 'ext-tuned', share: 0.25 })
    expect(res.status).toBe(201)
    const version = await json(res)
    expect(version).toMatchObject({
      active: false,
      definition: { route: { strategy: 'split', fineTunedModel: 'ext-tuned', share: 0.25 } },
    })
    const unknown = await post('/v1/tasks/tune/stage', { model: 'nobody' })
    expect(unknown.status).toBe(400)
    expect((await json(unknown)).detail).toContain('nobody')
  })
})
