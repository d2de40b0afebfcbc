import type pg from 'pg'
import {
  type CollectionRow,
  deleteCollection,
  findCollectionByName,
  insertCollection,
  isTextSearchConfig,
  listCollections,
  type RetrievalSettingsInput,
  updateRetrievalSettings,
} from '../db/collections.js'
import { type CollectionStats, collectionStats } from '../db/documents.js'
import { lastJobOfCollection } from '../db/ingest-jobs.js'
import { pgErrorCode, UNIQUE_VIOLATION } from '../db/pg-errors.js'
import type { Queryable } from '../db/transaction.js'
import { AppError } from '../errors.js'

export interface CreateCollectionInput {
  name: string
  description?: string
  embeddingModel: string
  embeddingDimensions: number
  textSearchConfig?: string
  retrieval?: RetrievalSettingsInput
}

export interface CollectionDetails {
  collection: CollectionRow
  stats: CollectionStats
  lastIngest: { jobId: string; status: string; mode: string; createdAt: Date; finishedAt: Date | null } | null
}

/** Create a collection and its HNSW partial index; a taken name is a 409, an unknown text config a 400. */
export async function createCollection(db: pg.Pool, input: CreateCollectionInput): Promise<CollectionRow> {
  const textSearchConfig = input.textSearchConfig ?? 'english'
  if (!(await isTextSearchConfig(db, textSearchConfig))) {
    throw new AppError(
      'validation_failed',
      `"${textSearchConfig}" is not a text search configuration of this database.`,
      {
        errors: [
          { path: 'textSearchConfig', message: 'unknown text search configuration (try english or simple)' },
        ],
      },
    )
  }
  try {
    return await insertCollection(db, {
      name: input.name,
      description: input.description ?? '',
      embeddingModel: input.embeddingModel,
      embeddingDimensions: input.embeddingDimensions,
      textSearchConfig,
      retrieval: input.retrieval,
    })
  } catch (error) {
    if (pgErrorCode(error) === UNIQUE_VIOLATION) {
      throw new AppError('conflict', `A collection named "${input.name}" already exists.`)
    }
    throw error
  }
}

export async function requireCollection(db: Queryable, name: string): Promise<CollectionRow> {
  const collection = await findCollectionByName(db, name)
  if (!collection) throw new AppError('not_found', `No collection named "${name}".`)
  return collection
}

export async function describeCollection(
  db: Queryable,
  collection: CollectionRow,
): Promise<CollectionDetails> {
  const stats = await collectionStats(db, collection.id)
  const job = await lastJobOfCollection(db, collection.id)
  return {
    collection,
    stats,
    lastIngest: job
      ? {
          jobId: job.id,
          status: job.status,
          // An ingest job always has a mode (a check constraint of ingest_jobs).
          mode: job.mode!,
          createdAt: job.createdAt,
          finishedAt: job.finishedAt,
        }
      : null,
  }
}

export async function describeCollections(db: Queryable): Promise<CollectionDetails[]> {
  const out: CollectionDetails[] = []
  // Sequential on purpose: the embedded database has one connection.
  for (const collection of await listCollections(db)) out.push(await describeCollection(db, collection))
  return out
}

/** Changes how a collection ranks (BM25 k1 and b, the lexical weight in fusion); omitted settings stay. */
export async function changeRetrievalSettings(
  db: Queryable,
  name: string,
  settings: RetrievalSettingsInput,
): Promise<CollectionRow> {
  const collection = await requireCollection(db, name)
  return updateRetrievalSettings(db, collection.id, settings)
}

/** Deletes the collection with its documents, chunks, jobs and index. */
export async function removeCollection(db: pg.Pool, name: string): Promise<void> {
  const collection = await requireCollection(db, name)
  await deleteCollection(db, collection.id)
}
