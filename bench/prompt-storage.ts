/**
 * What keeping the exact prompt costs per generation: the examples' guidelines and products are seeded,
 * the example product-description task is prepared for every product (retrieval and prompt assembly
 * run for real; no model is called), each prepared prompt is logged the way generation logs it, and the
 * database reports the stored sizes (after its own compression). Run: `npx tsx bench/prompt-storage.ts`
 * (embedded database), or with TEST_DATABASE_URL for PostgreSQL.
 */
import { randomUUID } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'csv-parse/sync'
import { loadConfig } from '../src/config.js'
import { insertGenerations } from '../src/db/generations.js'
import { prepareGeneration } from '../src/generation/prepare.js'
import { createLogger } from '../src/logger.js'
import { buildServices } from '../src/services.js'
import { putTask } from '../src/tasks/manage-tasks.js'
import { TaskDefinition } from '../src/tasks/task-definition.js'
import { seedCollection } from '../test/support/seed-chunks.js'
import { createTestDatabase } from '../test/support/test-db.js'

const root = join(import.meta.dirname, '..')
const db = await createTestDatabase()
const guidelines = readdirSync(join(root, 'examples/guidelines')).map((file) => {
  const text = readFileSync(join(root, 'examples/guidelines', file), 'utf8')
  return { sourceId: file, chunks: text.split(/\n(?=## )/).filter((part) => part.trim() !== '') }
})
const products = parse(readFileSync(join(root, 'examples/products/luma-gear.csv')), {
  columns: true,
}) as Record<string, string>[]
await seedCollection(db.pool, { name: 'brand', dimensions: 8 }, [
  ...guidelines,
  ...products.map((p) => ({
    sourceId: p.sku!,
    kind: 'product' as const,
    title: p.name!,
    chunks: [`${p.name}. Price ${p.price}. ${p.category}. ${p.description?.replace(/<[^>]+>/g, ' ')}`],
  })),
])
const task = TaskDefinition.parse(
  JSON.parse(readFileSync(join(root, 'examples/tasks/product-description.json'), 'utf8')),
)
const services = buildServices({ config: loadConfig({}), db, logger: createLogger('silent') })
await putTask(db.pool, {
  models: services.models,
  name: 'product-description',
  definition: task,
  activate: true,
})
const deps = { ...services.generation, logger: services.logger }
const output = 'A roomy duffle for the gym and the weekend [1]. '.repeat(10)
const rows = []
for (const product of products) {
  const prepared = await prepareGeneration(deps, {
    task: 'product-description',
    input: `Write a product description of the ${product.name}`,
    variables: { brand: 'Luma', audience: 'people who train outdoors' },
    requestId: randomUUID(),
    endpoint: 'generate',
  })
  rows.push({
    id: prepared.id,
    requestId: prepared.request.requestId,
    taskVersionId: prepared.task.id,
    apiKeyId: null,
    collectionName: 'brand',
    endpoint: 'generate' as const,
    subject: null,
    strategy: 'foundation',
    routeReason: prepared.decision.reason,
    model: prepared.decision.model,
    fellBack: false,
    chunkIds: prepared.passages.flatMap((p) => p.chunkIds),
    input: { input: prepared.request.input, variables: prepared.request.variables },
    output,
    promptTokens: 1000,
    completionTokens: 150,
    costUsd: 0.0003,
    latencyMs: 900,
    status: 'succeeded' as const,
    error: null,
    messages: prepared.messages,
    passages: prepared.passages.map(({ documentId, sourceId, title, kind, headingPath, text, chunkIds }) => ({
      documentId,
      sourceId,
      title,
      kind,
      headingPath,
      text,
      chunkIds,
    })),
    promptTemplate: 'foundation' as const,
    routeArm: 'foundation' as const,
    createdAt: new Date(),
  })
}
await insertGenerations(db.pool, rows)
const { rows: sizes } = await db.pool.query<Record<string, number>>(
  `SELECT count(*)::int AS generations,
     avg(octet_length(messages::text))::int AS "messagesText",
     avg(pg_column_size(messages))::int AS "messagesStored",
     avg(pg_column_size(passages))::int AS "passagesStored",
     avg(pg_column_size(g.*))::int AS "rowStored",
     avg(jsonb_array_length(passages))::float8 AS "passagesPerGeneration"
   FROM generations g`,
)
const s = sizes[0]!
const perGeneration = s.messagesStored! + s.passagesStored!
console.log(
  JSON.stringify({
    database: process.env.TEST_DATABASE_URL ? 'postgresql' : 'embedded',
    ...s,
    perGeneration,
  }),
)
console.log(
  `${s.generations} generations, ${s.passagesPerGeneration?.toFixed(1)} passages each: the exact prompt adds ` +
    `${(perGeneration / 1024).toFixed(1)} KiB per generation (messages ${s.messagesStored} B stored from ` +
    `${s.messagesText} B of JSON, passages ${s.passagesStored} B); ${((perGeneration * 1e6) / 1024 ** 3).toFixed(1)} GiB per million generations.`,
)
await services.close()
await db.close()
