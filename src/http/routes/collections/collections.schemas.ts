import { z } from '@hono/zod-openapi'
import { CollectionName } from '../../../collections/collection-name.js'
import type { CollectionDetails } from '../../../collections/manage-collections.js'
import type { DocumentSummary } from '../../../db/documents.js'

export const CreateCollectionRequest = z
  .object({
    name: CollectionName,
    description: z.string().max(2000).optional(),
    embeddingModel: z.string().trim().min(1).max(200).optional().openapi({
      description: 'Defaults to the server EMBEDDING_MODEL. Fixed for the life of the collection.',
    }),
    embeddingDimensions: z.number().int().min(1).max(2000).optional().openapi({
      description: 'Defaults to the server EMBEDDING_DIMENSIONS; must match what the model returns.',
    }),
    textSearchConfig: z
      .string()
      .regex(/^[a-z_]{1,63}$/)
      .optional()
      .openapi({
        description: 'PostgreSQL text search configuration, e.g. english or simple (default english)',
      }),
  })
  .strict()
  .openapi('CreateCollectionRequest')

export const Collection = z
  .object({
    name: z.string(),
    description: z.string(),
    embeddingModel: z.string(),
    embeddingDimensions: z.number().int(),
    textSearchConfig: z.string(),
    documentCount: z.number().int(),
    chunkCount: z.number().int(),
    embeddedChunkCount: z.number().int(),
    lastIngest: z
      .object({
        jobId: z.string(),
        status: z.string(),
        mode: z.string(),
        createdAt: z.string(),
        finishedAt: z.string().nullable(),
      })
      .nullable(),
    createdAt: z.string(),
  })
  .openapi('Collection')
export type Collection = z.infer<typeof Collection>

export const DocumentItem = z
  .object({
    sourceId: z.string(),
    kind: z.enum(['guideline', 'product']),
    title: z.string(),
    contentHash: z.string(),
    metadata: z.record(z.string(), z.unknown()),
    chunkCount: z.number().int(),
    embeddedChunkCount: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Document')

export const DocumentPage = z
  .object({
    data: z.array(DocumentItem),
    nextCursor: z
      .string()
      .nullable()
      .openapi({ description: 'Pass as `after` for the next page; null at the end' }),
  })
  .openapi('DocumentPage')

export const DocumentQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  after: z
    .string()
    .min(1)
    .max(1024)
    .optional()
    .openapi({ description: 'The nextCursor of the previous page' }),
  kind: z.enum(['guideline', 'product']).optional(),
})

export function toCollection(details: CollectionDetails): Collection {
  const { collection, stats, lastIngest } = details
  return {
    name: collection.name,
    description: collection.description,
    embeddingModel: collection.embeddingModel,
    embeddingDimensions: collection.embeddingDimensions,
    textSearchConfig: collection.textSearchConfig,
    ...stats,
    lastIngest: lastIngest
      ? {
          ...lastIngest,
          createdAt: lastIngest.createdAt.toISOString(),
          finishedAt: lastIngest.finishedAt?.toISOString() ?? null,
        }
      : null,
    createdAt: collection.createdAt.toISOString(),
  }
}

export function toDocumentItem(doc: DocumentSummary): z.infer<typeof DocumentItem> {
  return {
    sourceId: doc.sourceId,
    kind: doc.kind,
    title: doc.title,
    contentHash: doc.contentHash,
    metadata: doc.metadata,
    chunkCount: doc.chunkCount,
    embeddedChunkCount: doc.embeddedChunkCount,
    createdAt: doc.createdAt.toISOString(),
    updatedAt: doc.updatedAt.toISOString(),
  }
}
