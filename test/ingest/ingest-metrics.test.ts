import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type OpenAIStub, startOpenAIStub } from '../support/openai-stub.js'
import { createTestApp, type TestApp } from '../support/test-app.js'
import { FIXTURES, ingestDeps, ingestNow, makeCollection, readFolder, textFile } from './ingest-harness.js'

let t: TestApp
let stub: OpenAIStub

beforeAll(async () => {
  t = await createTestApp()
  stub = await startOpenAIStub({ embeddingDimensions: 64 })
})
afterAll(async () => {
  await stub.close()
  await t.close()
})

async function counter(name: string): Promise<number> {
  const res = await t.request('/metrics', { key: t.adminKey })
  expect(res.status).toBe(200)
  const line = new RegExp(`^${name} (\\S+)$`, 'm').exec(await res.text())
  return line ? Number(line[1]) : 0
}

type ChunkCounts = { chunks: { embedded: number; reused: number } }

describe('ingestion metrics', () => {
  it('/metrics counts the chunks an ingest embedded, and those a re-ingest of an edited file reused', async () => {
    // The worker beside the app gets the app's metrics, as the server wires it.
    const deps = { ...ingestDeps(t.db, stub.url), metrics: t.metrics }
    const collection = await makeCollection(t.db, 'metrics')
    const files = readFolder(join(FIXTURES, 'guidelines'))

    const first = await ingestNow(deps, collection, files)
    const embedded = await counter('onbrand_chunks_embedded_total')
    expect(embedded).toBeGreaterThan(0)
    expect(embedded).toBe((first.progress as ChunkCounts).chunks.embedded)
    expect(await counter('onbrand_chunks_reused_total')).toBe(0)

    const edited = files.map((file) =>
      file.name === '18f/voice-and-tone.md'
        ? textFile(
            file.name,
            `${new TextDecoder().decode(file.content)}\n## Signing off\n\nSign off warmly.\n`,
          )
        : file,
    )
    const second = await ingestNow(deps, collection, edited)
    const reused = await counter('onbrand_chunks_reused_total')
    expect(reused).toBeGreaterThan(0)
    expect(reused).toBe((second.progress as ChunkCounts).chunks.reused)
    expect(await counter('onbrand_chunks_embedded_total')).toBe(embedded + 1)
  })
})
