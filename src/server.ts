import { serve } from '@hono/node-server'
import { startWorker } from '../ingest/jobs/worker.js'
import { createApp } from './app.js'
import { ensureAdminKey } from './auth/manage-keys.js'
import { withServices } from './services.js'

/**
 * The API server (`onbrand server`, `npm start`): listens until SIGTERM or SIGINT, then stops accepting
 * connections, lets in-flight requests finish (up to SHUTDOWN_TIMEOUT_MS), hands a running ingest job
 * back to the queue, writes queued rows and closes the database. Resolves with the exit code.
 */
export function runServer(): Promise<number> {
  return withServices({ processMetrics: true, name: 'server' }, async (services) => {
    const { config, db, logger } = services
    if (config.BOOTSTRAP_ADMIN_KEY) {
      const key = await ensureAdminKey(db.pool)
      // Printed straight to the terminal, never to the log stream: logs are shipped and kept.
      if (key) {
        process.stderr.write(
          `\nNo API keys existed, so an admin key was created. It is shown only once:\n\n  ${key}\n\n`,
        )
      }
    }
    const app = createApp(services)
    // Jobs run in this process unless a separate `onbrand worker` fleet does them (RUN_WORKER=false).
    const worker = config.RUN_WORKER
      ? startWorker({ deps: services.ingest, handlers: services.jobHandlers })
      : undefined
    const server = serve({ fetch: app.fetch, hostname: config.HOST, port: config.PORT }, (info) => {
      logger.info({ host: info.address, port: info.port, database: db.kind }, 'listening')
    })

    await new Promise<void>((resolve) => {
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
          resolve()
        })
        if ('closeIdleConnections' in server) server.closeIdleConnections()
      }
      process.on('SIGTERM', () => shutdown('SIGTERM'))
      process.on('SIGINT', () => shutdown('SIGINT'))
    })
    return 0
  })
}
