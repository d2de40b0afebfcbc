import { serve } from '@hono/node-server'
import { startWorker } from '../ingest/jobs/worker.js'
import { createApp } from './app.js'
import { ensureAdminKey } from './auth/manage-keys.js'
import { ConfigError, loadConfig } from './config.js'
import { openMigratedDatabase } from './db/migrate.js'
import { StartupError } from './lib/startup-error.js'
import { createLogger } from './logger.js'
import { buildServices } from './services.js'

async function main(): Promise<void> {
  const config = loadConfig()
  const logger = createLogger(config.LOG_LEVEL)
  const { db, migrations } = await openMigratedDatabase(config, logger)

  if (config.BOOTSTRAP_ADMIN_KEY) {
    const key = await ensureAdminKey(db.pool)
    // Printed straight to the terminal, never to the log stream: logs are shipped and kept.
    if (key)
      process.stderr.write(
        `\nNo API keys existed, so an admin key was created. It is shown only once:\n\n  ${key}\n\n`,
      )
  }

  const services = buildServices({ config, db, logger, migrations, processMetrics: true })
  const app = createApp(services)
  // Ingest jobs run in this process unless a separate `npm run worker` fleet does them (RUN_WORKER=false).
  const worker = config.RUN_WORKER ? startWorker({ deps: services.ingest }) : undefined
  const server = serve({ fetch: app.fetch, hostname: config.HOST, port: config.PORT }, (info) => {
    logger.info({ host: info.address, port: info.port, database: db.kind }, 'listening')
  })

  let stopping = false
  const shutdown = (signal: string) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'shutting down: no new connections, finishing in-flight requests')
    const force = setTimeout(() => {
      logger.warn('shutdown timeout reached; closing remaining connections')
      if ('closeAllConnections' in server) server.closeAllConnections()
    }, config.SHUTDOWN_TIMEOUT_MS)
    force.unref()
    // A job in progress goes back to the queue with its progress; the pool closes only after that.
    const workerStopped = worker
      ?.stop()
      .catch((error: unknown) => logger.error({ err: error }, 'stopping the ingest worker failed'))
    server.close(async () => {
      clearTimeout(force)
      await workerStopped
      // Queued generation rows and token charges are written before the pool closes.
      // Bounded: a database that is gone must not hold the exit (the writer gives up after ~5 s anyway).
      await Promise.race([
        services
          .close()
          .catch((error: unknown) => logger.error({ err: error }, 'writing queued rows failed')),
        new Promise((resolve) => setTimeout(resolve, 15_000)),
      ])
      await db.close().catch((error: unknown) => logger.error({ err: error }, 'closing the database failed'))
      logger.info('stopped')
      process.exit(0)
    })
    if ('closeIdleConnections' in server) server.closeIdleConnections()
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof StartupError) {
    process.stderr.write(`onbrand: ${error.message}\n`)
  } else {
    process.stderr.write(
      `onbrand: failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    )
  }
  process.exit(1)
})
