import { z } from '@hono/zod-openapi'
import { CollectionName } from '../../../collections/collection-name.js'
import type { CollectionDetails } from '../../../collections/manage-collections.js'
import type { StoredChunk } from '../../../db/chunks.js'
import type { DocumentSummary } from '../../../db/documents.js'
import { INT4_MAX } from '../../../db/storable.js'

export const CollectionRetrievalSettings = z
  .object({
    lexicalWeight: z.number().min(0).max(1).openapi({
      description:
        "The full-text (BM25) arm's weight in hybrid fusion; the vector arm gets the rest (default 0.8).",
    }),
    bm25: z
      .object({
        k1: z.number().min(0).max(3).openapi({ description: 'Term-frequency saturation (default 0.9)' }),
        b: z.number().min(0).max(1).openapi({ description: 'Length normalisation (default 0.4)' }),
      })
      .strict(),
  })
  .strict()
  .openapi('CollectionRetrievalSettings')

/** The same settings, each optional: what a create or an update may set. */
export const RetrievalSettingsInput = z
  .object({
    lexicalWeight: CollectionRetrievalSettings.shape.lexicalWeight.optional(),
    bm25: CollectionRetrievalSettings.shape.bm25.partial().optional(),
  })
  .strict()
  .openapi('RetrievalSettingsInput')

export const UpdateCollectionRequest = z
  .object({ retrieval: RetrievalSettingsInput })
  .strict()
  .openapi('UpdateCollectionRequest')

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
    retrieval: RetrievalSettingsInput.optional(),
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
    retrieval: CollectionRetrievalSettings,
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
    id: z.number().int().openapi({ description: 'The document id retrieval passages refer to' }),
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
  q: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .optional()
    .openapi({ description: 'Only documents whose source id or title contains this text (any case)' }),
})

export const DocumentParams = z.object({
  name: CollectionName,
  id: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).openapi({ type: 'integer' }),
})

export const ChunkQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  after: z.coerce
    .number()
    .int()
    .min(0)
    .max(INT4_MAX)
    .optional()
    .openapi({ type: 'integer', description: 'The nextCursor of the previous page' }),
})

export const ChunkItem = z
  .object({
    id: z.number().int(),
    ordinal: z.number().int().openapi({ description: 'Position in the document, from 0' }),
    headingPath: z.string().openapi({ example: 'Voice and tone > Grammar' }),
    text: z.string(),
    tokens: z.number().int().openapi({ description: 'cl100k_base tokens, heading path included' }),
    contentHash: z.string(),
    embedded: z.boolean().openapi({ description: 'false: found by full-text search only, for now' }),
    embeddingModel: z.string().nullable(),
  })
  .openapi('Chunk')

export const ChunkPage = z
  .object({
    data: z.array(ChunkItem),
    nextCursor: z
      .number()
      .int()
      .nullable()
      .openapi({ description: 'Pass as `after` for the next page; null at the end' }),
  })
  .openapi('ChunkPage')

export function toCollection(details: CollectionDetails): Collection {
  const { collection, stats, lastIngest } = details
  return {
    name: collection.name,
    description: collection.description,
    embeddingModel: collection.embeddingModel,
    embeddingDimensions: collection.embeddingDimensions,
    textSearchConfig: collection.textSearchConfig,
    retrieval: collection.retrieval,
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
    id: doc.id,
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

export function toChunkItem(chunk: StoredChunk): z.infer<typeof ChunkItem> {
  return {
    id: chunk.id,
    ordinal: chunk.ordinal,
    headingPath: chunk.headingPath,
    text: chunk.text,
    tokens: chunk.tokenCount,
    contentHash: chunk.contentHash,
    embedded: chunk.embeddingModel !== null,
    embeddingModel: chunk.embeddingModel,
  }
}
