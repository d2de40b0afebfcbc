import { startWorker } from '../../ingest/jobs/worker.js'
import { withServices } from '../services.js'
import { EXIT, parseCommandArgs } from './run-command.js'

export const usage = `Usage:
  onbrand worker      work on queued jobs (ingest and every other kind) until SIGTERM or SIGINT (a job in progress goes back to the queue)`

export async function run(args: string[]): Promise<number> {
  parseCommandArgs(usage, args, {})
  return withServices({ name: 'worker' }, async (services) => {
    const worker = startWorker({ deps: services.ingest, handlers: services.jobHandlers })
    const { logger } = services
    logger.info({ workerId: worker.workerId, database: services.db.kind }, 'worker started')
    const stop = (signal: string) => {
      logger.info({ signal }, 'stopping the worker; a job in progress goes back to the queue')
      void worker.stop()
    }
    process.once('SIGTERM', () => stop('SIGTERM'))
    process.once('SIGINT', () => stop('SIGINT'))
    await worker.done
    return EXIT.ok
  })
}
