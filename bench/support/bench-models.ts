import type pg from 'pg'
import { loadConfig } from '../../src/config.js'
import { createModelRegistry, type ModelRegistry } from '../../src/generation/model-registry.js'
import { createLogger } from '../../src/logger.js'

/** The model registry of a bench's database, as a process without MODELS_FILE sees it (the catalog). */
export function benchModelRegistry(db: pg.Pool): ModelRegistry {
  return createModelRegistry({ db, config: loadConfig({}), logger: createLogger('silent') })
}
