import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { claimJob } from '../../src/db/ingest-jobs.js'
import { type OpenAIStub, startOpenAIStub } from '../support/openai-stub.js'
import { createTestApp, json, type TestApp } from '../support/test-app.js'
import { ingestDeps, runToEnd } from './ingest-harness.js'

let t: TestApp
let stub: OpenAIStub

beforeAll(async () => {
  t = await createTestApp()
  stub = await startOpenAIStub()
  const res = await t.request('/v1/collections', {
    method: 'POST',
    key: t.adminKey,
    json: { name: 'jobs', embeddingModel: 'stub-embed', embeddingDimensions: 64 },
  })
  expect(res.status).toBe(201)
})
afterAll(async () => {
  await stub.close()
  await t.close()
})

const post = (path: string) => t.request(path, { method: 'POST', key: t.adminKey })
const get = async (path: string) => json(await t.request(path, { key: t.adminKey }))

async function upload(files: Record<string, string>): Promise<string> {
  const form = new FormData()
  for (const [name, content] of Object.entries(files)) form.append('files', new File([content], name))
  const res = await t.request('/v1/collections/jobs/ingest', { method: 'POST', key: t.adminKey, body: form })
  expect(res.status).toBe(202)
  return (await json(res)).jobId
}

const PAGES = {
  'voice.md': '# Voice\n\nWrite in plain English. Use active verbs.',
  'numbers.md': '# Numbers\n\nUse numerals for 10 and above.',
}

describe('ingest job actions: cancel, retry, dismiss, list', () => {
  it('a cancelled job is retried with a copy of its files, once; the retry runs to the end', async () => {
    const id = await upload(PAGES)
    const cancelled = await post(`/v1/ingest-jobs/${id}/cancel`)
    expect(cancelled.status).toBe(200)
    expect(await json(cancelled)).toMatchObject({
      id,
      status: 'cancelled',
      cancelRequested: true,
      retryable: true,
    })
    const again = await post(`/v1/ingest-jobs/${id}/cancel`)
    expect(again.status).toBe(409)
    expect((await json(again)).detail).toMatch(/already finished \(cancelled\)/)

    const retried = await post(`/v1/ingest-jobs/${id}/retry`)
    expect(retried.status).toBe(202)
    const job = await json(retried)
    expect(retried.headers.get('location')).toBe(`/v1/ingest-jobs/${job.id}`)
    expect(job).toMatchObject({ status: 'queued', mode: 'upsert', retryOf: id, retriedAs: null })
    expect(await get(`/v1/ingest-jobs/${id}`)).toMatchObject({
      retriedAs: job.id,
      retryable: false,
      dismissedAt: expect.any(String),
    })
    const twice = await post(`/v1/ingest-jobs/${id}/retry`)
    expect(twice.status).toBe(409)
    expect((await json(twice)).detail).toContain(`retried already, as job ${job.id}`)

    await runToEnd(ingestDeps(t.db, stub.url), job.id)
    const done = await get(`/v1/ingest-jobs/${job.id}`)
    expect(done).toMatchObject({ status: 'succeeded', progress: { documents: { added: 2 } } })
    // The old job's files were copied, not moved: both jobs' files are accounted for.
    const { rows } = await t.db.pool.query(
      'SELECT count(*)::int AS n FROM ingest_job_files WHERE job_id = $1',
      [id],
    )
    expect(rows[0].n).toBe(2)
    const succeeded = await post(`/v1/ingest-jobs/${job.id}/retry`)
    expect(succeeded.status).toBe(409)
    expect((await json(succeeded)).detail).toMatch(/this one is succeeded/)
  })

  it('a running job is asked to stop; it cannot be dismissed until it has finished', async () => {
    const id = await upload({ 'long.md': '# Long\n\nText.' })
    expect(await claimJob(t.db.pool, 'busy-worker', 60_000, id)).toBeDefined()
    const res = await post(`/v1/ingest-jobs/${id}/cancel`)
    expect(res.status).toBe(200)
    expect(await json(res)).toMatchObject({ status: 'running', cancelRequested: true, retryable: false })
    const dismiss = await post(`/v1/ingest-jobs/${id}/dismiss`)
    expect(dismiss.status).toBe(409)
    expect((await json(dismiss)).detail).toMatch(/still running/)
    // The worker gives up its lease (it died): the next cancel ends the job at once.
    await t.db.pool.query("UPDATE ingest_jobs SET locked_until = now() - interval '1 second' WHERE id = $1", [
      id,
    ])
    expect(await json(await post(`/v1/ingest-jobs/${id}/cancel`))).toMatchObject({ status: 'cancelled' })
  })

  it('a failed job stays listed with its errors until dismissed; its files gone, it cannot be retried', async () => {
    const id = await upload({ 'empty.md': '   ' })
    await runToEnd(ingestDeps(t.db, stub.url), id)
    const listed = await get('/v1/collections/jobs/ingest-jobs')
    const failed = listed.data.find((j: { id: string }) => j.id === id)
    expect(failed).toMatchObject({ status: 'failed', retryable: true, dismissedAt: null })
    expect(failed.errors).toEqual([expect.objectContaining({ file: 'empty.md' })])
    // Newest first.
    const created = listed.data.map((j: { createdAt: string }) => j.createdAt)
    expect(created).toEqual([...created].sort().reverse())

    await t.db.pool.query('UPDATE ingest_jobs SET files_purged_at = now() WHERE id = $1', [id])
    const purged = await post(`/v1/ingest-jobs/${id}/retry`)
    expect(purged.status).toBe(409)
    expect((await json(purged)).detail).toMatch(/no longer stored/)

    const dismissed = await post(`/v1/ingest-jobs/${id}/dismiss`)
    expect(dismissed.status).toBe(200)
    expect((await json(dismissed)).dismissedAt).toEqual(expect.any(String))
    const after = await get('/v1/collections/jobs/ingest-jobs')
    expect(after.data.map((j: { id: string }) => j.id)).not.toContain(id)
    const all = await get('/v1/collections/jobs/ingest-jobs?includeDismissed=true&limit=50')
    expect(all.data.map((j: { id: string }) => j.id)).toContain(id)
  })

  it('a key limited to other collections sees none of it', async () => {
    const id = await upload({ 'scoped.md': '# Scoped\n\nText.' })
    const limited = await t.makeKey(['admin'], ['elsewhere'])
    for (const path of [
      `/v1/ingest-jobs/${id}/cancel`,
      `/v1/ingest-jobs/${id}/retry`,
      `/v1/ingest-jobs/${id}/dismiss`,
    ])
      expect((await t.request(path, { method: 'POST', key: limited.key })).status).toBe(404)
    // Naming a collection the key may not use is refused as on every collection route.
    expect((await t.request('/v1/collections/jobs/ingest-jobs', { key: limited.key })).status).toBe(403)
    expect((await post('/v1/ingest-jobs/00000000-0000-4000-8000-000000000000/retry')).status).toBe(404)
  })
})
