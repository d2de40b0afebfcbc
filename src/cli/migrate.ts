import { loadConfig } from '../config.js'
import { openMigratedDatabase } from '../db/migrate.js'
import { createLogger } from '../logger.js'
import { runCli } from './run-cli.js'

runCli(async () => {
  const config = loadConfig()
  const logger = createLogger(config.LOG_LEVEL)
  // openMigratedDatabase applies pending migrations and logs what it applied.
  const { db, migrations } = await openMigratedDatabase(config, logger)
  process.stdout.write(`Database schema is at version ${migrations.length} (${db.kind}).\n`)
  await db.close()
})
