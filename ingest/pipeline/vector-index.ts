import { findCollectionById } from '../../src/db/collections.js'
import { ensureVectorIndex } from '../../src/db/vector-index.js'
import type { IngestDeps } from './deps.js'

/**
 * After a job, the collection has its vector index again (a first load dropped it; a crashed attempt
 * may have left it missing or half built). A failed build does not fail the job: the rows are stored
 * and searches stay correct, scanning exactly, and the next job of the collection builds it.
 */
export async function restoreVectorIndex(deps: IngestDeps, collectionId: number): Promise<void> {
  try {
    const collection = await findCollectionById(deps.db.pool, collectionId)
    if (!collection) return
    const started = performance.now()
    if ((await ensureVectorIndex(deps.db.pool, collection)) === 'built') {
      deps.logger.info(
        { collection: collection.name, ms: Math.round(performance.now() - started) },
        'built the collection vector index',
      )
    }
  } catch (error) {
    deps.logger.error({ err: error, collectionId }, 'building the collection vector index failed')
  }
}
