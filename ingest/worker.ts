/** A standalone ingestion worker: `npm run worker` (docker-compose runs it beside the API). */

import { runCli } from '../src/cli/run-cli.js'
import { loadConfig } from '../src/config.js'
import { openMigratedDatabase } from '../src/db/migrate.js'
import { createOpenAIEmbedderFactory } from '../src/embedding/openai-embedder.js'
import { createLogger } from '../src/logger.js'
import { startWorker } from './jobs/worker.js'

runCli(async () => {
  const config = loadConfig()
  const logger = createLogger(config.LOG_LEVEL)
  const { db } = await openMigratedDatabase(config, logger)
  const worker = startWorker({
    deps: { db, config, createEmbedder: createOpenAIEmbedderFactory(config), logger },
  })
  logger.info({ workerId: worker.workerId, database: db.kind }, 'ingest worker started')
  const shutdown = (signal: string) => {
    logger.info({ signal }, 'stopping the ingest worker; a job in progress goes back to the queue')
    void worker.stop()
  }
  process.once('SIGTERM', () => shutdown('SIGTERM'))
  process.once('SIGINT', () => shutdown('SIGINT'))
  await worker.done
  await db.close()
  logger.info('ingest worker stopped')
})
