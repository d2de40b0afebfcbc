/**
 * One server process for bench/generation.ts, chosen by BENCH_MODE:
 *   onbrand  the real app (createApp) on @hono/node-server;
 *   bare     a plain Hono handler doing only what generation cannot skip: the same retrieve() call
 *            (same SQL, same query-embedding cache) and the same ChatOpenAI call, no auth, no task
 *            lookup, no logging.
 * Configured from the environment like the real server (DATABASE_URL, OPENAI_BASE_URL, PORT, …).
 */
import { serve } from '@hono/node-server'
import { HumanMessage, SystemMessage } from '@langchain/core/messages'
import { ChatOpenAI } from '@langchain/openai'
import { Hono } from 'hono'
import { createApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { loadMigrations } from '../src/db/migrate.js'
import { openDatabase } from '../src/db/pool.js'
import { createOpenAIEmbedderFactory } from '../src/embedding/openai-embedder.js'
import { createLogger } from '../src/logger.js'
import { QueryEmbeddingCache } from '../src/retrieval/query-embedding-cache.js'
import { retrievalSettingsFromConfig, retrieve } from '../src/retrieval/retrieve.js'
import { buildServices } from '../src/services.js'

const config = loadConfig()
const db = await openDatabase({
  url: config.DATABASE_URL,
  dataDir: config.DATA_DIR,
  poolSize: config.DB_POOL_SIZE,
})
const mode = process.env.BENCH_MODE

let fetchHandler: (request: Request) => Response | Promise<Response>
if (mode === 'onbrand') {
  const app = createApp(
    buildServices({ config, db, logger: createLogger(config.LOG_LEVEL), migrations: loadMigrations() }),
  )
  fetchHandler = app.fetch
} else if (mode === 'bare') {
  const retrieval = {
    db: db.pool,
    embedders: createOpenAIEmbedderFactory(config),
    queryEmbeddingCache: new QueryEmbeddingCache({
      maxEntries: config.QUERY_EMBEDDING_CACHE_SIZE,
      ttlMs: config.QUERY_EMBEDDING_CACHE_TTL_MS,
    }),
    settings: retrievalSettingsFromConfig(config),
  }
  const chat = new ChatOpenAI({
    model: 'gpt-4o-mini',
    apiKey: config.OPENAI_API_KEY ?? 'not-needed',
    configuration: { baseURL: config.OPENAI_BASE_URL },
    maxRetries: config.MODEL_MAX_RETRIES,
    streamUsage: true,
    maxTokens: 300,
  })
  const app = new Hono()
  app.get('/healthz', (c) => c.json({ status: 'ok' }))
  app.post('/generate', async (c) => {
    const body = (await c.req.json()) as { input: string; collection: string; brand: string }
    const { passages } = await retrieve(retrieval, {
      collection: body.collection,
      query: body.input,
      k: 5,
      budgetTokens: 1500,
    })
    const context = passages.map((p, i) => `[${i + 1}] ${p.text}`).join('\n\n')
    const reply = await chat.invoke([
      new SystemMessage(`You write product copy for ${body.brand}.\n\n${context}`),
      new HumanMessage(body.input),
    ])
    return c.json({ output: reply.content, usage: reply.usage_metadata })
  })
  fetchHandler = app.fetch
} else {
  throw new Error('BENCH_MODE must be onbrand or bare')
}

// CPU time this process has used, so the driver can report CPU per request, not only wall-clock figures.
const handler = fetchHandler
const withCpu = (request: Request) =>
  new URL(request.url).pathname === '/__cpu' ? Response.json(process.cpuUsage()) : handler(request)
const server = serve({ fetch: withCpu, hostname: '127.0.0.1', port: config.PORT })
process.on('SIGTERM', () => {
  server.close()
  db.close().finally(() => process.exit(0))
})
