import { type OpenAPIHono, z } from '@hono/zod-openapi'
import type { ApiKey } from '../../../auth/api-keys.js'
import { assertCollectionAllowed, canUseCollection } from '../../../collections/access.js'
import { CollectionName } from '../../../collections/collection-name.js'
import {
  changeRetrievalSettings,
  createCollection,
  describeCollection,
  describeCollections,
  removeCollection,
  requireCollection,
} from '../../../collections/manage-collections.js'
import { listDocumentChunks } from '../../../db/chunks.js'
import { findDocument, listDocuments } from '../../../db/documents.js'
import { AppError } from '../../../errors.js'
import type { Services } from '../../../services.js'
import type { AppEnv } from '../../context.js'
import { problemResponses } from '../../problem.js'
import { protectedRoute } from '../../protected-route.js'
import {
  ChunkPage,
  ChunkQuery,
  Collection,
  CreateCollectionRequest,
  DocumentItem,
  DocumentPage,
  DocumentParams,
  DocumentQuery,
  toChunkItem,
  toCollection,
  toDocumentItem,
  UpdateCollectionRequest,
} from './collections.schemas.js'

const NameParam = z.object({ name: CollectionName })

export function registerCollectionRoutes(app: OpenAPIHono<AppEnv>, services: Services): void {
  const db = services.db.pool

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'post',
      path: '/v1/collections',
      tags: ['collections'],
      summary: 'Create a collection (and its vector index)',
      request: {
        body: { required: true, content: { 'application/json': { schema: CreateCollectionRequest } } },
      },
      responses: {
        201: { description: 'Created', content: { 'application/json': { schema: Collection } } },
        ...problemResponses(400, 409, 413),
      },
    }),
    async (c) => {
      const input = c.req.valid('json')
      assertCollectionAllowed(c.get('apiKey'), input.name)
      const collection = await createCollection(db, {
        ...input,
        embeddingModel: input.embeddingModel ?? services.config.EMBEDDING_MODEL,
        embeddingDimensions: input.embeddingDimensions ?? services.config.EMBEDDING_DIMENSIONS,
      })
      return c.json(toCollection(await describeCollection(db, collection)), 201)
    },
  )

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'get',
      path: '/v1/collections',
      tags: ['collections'],
      summary: 'List collections with document and chunk counts',
      responses: {
        200: {
          description: 'Collections',
          content: { 'application/json': { schema: z.object({ data: z.array(Collection) }) } },
        },
      },
    }),
    async (c) => {
      const key = c.get('apiKey')
      const all = await describeCollections(db)
      return c.json(
        { data: all.filter((d) => canUseCollection(key, d.collection.name)).map(toCollection) },
        200,
      )
    },
  )

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'get',
      path: '/v1/collections/{name}',
      tags: ['collections'],
      summary: 'A collection with its document and chunk counts and last ingest',
      request: { params: NameParam },
      responses: {
        200: { description: 'The collection', content: { 'application/json': { schema: Collection } } },
        ...problemResponses(400, 404),
      },
    }),
    async (c) => {
      const { name } = c.req.valid('param')
      assertCollectionAllowed(c.get('apiKey'), name)
      const collection = await requireCollection(db, name)
      return c.json(toCollection(await describeCollection(db, collection)), 200)
    },
  )

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'patch',
      path: '/v1/collections/{name}',
      tags: ['collections'],
      summary: 'Change how a collection ranks: BM25 k1 and b, the lexical weight in hybrid fusion',
      request: {
        params: NameParam,
        body: { required: true, content: { 'application/json': { schema: UpdateCollectionRequest } } },
      },
      responses: {
        200: { description: 'The collection', content: { 'application/json': { schema: Collection } } },
        ...problemResponses(400, 404, 413),
      },
    }),
    async (c) => {
      const { name } = c.req.valid('param')
      assertCollectionAllowed(c.get('apiKey'), name)
      const collection = await changeRetrievalSettings(db, name, c.req.valid('json').retrieval)
      return c.json(toCollection(await describeCollection(db, collection)), 200)
    },
  )

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'delete',
      path: '/v1/collections/{name}',
      tags: ['collections'],
      summary: 'Delete a collection with all its documents, chunks and jobs',
      request: { params: NameParam },
      responses: { 204: { description: 'Deleted' }, ...problemResponses(400, 404) },
    }),
    async (c) => {
      const { name } = c.req.valid('param')
      assertCollectionAllowed(c.get('apiKey'), name)
      await removeCollection(db, name)
      return c.body(null, 204)
    },
  )

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'get',
      path: '/v1/collections/{name}/documents',
      tags: ['collections'],
      summary: 'What the collection knows: its documents, in source-id order, a page at a time',
      request: { params: NameParam, query: DocumentQuery },
      responses: {
        200: {
          description: 'A page of documents',
          content: { 'application/json': { schema: DocumentPage } },
        },
        ...problemResponses(400, 404),
      },
    }),
    async (c) => {
      const { name } = c.req.valid('param')
      const query = c.req.valid('query')
      assertCollectionAllowed(c.get('apiKey'), name)
      const collection = await requireCollection(db, name)
      // One extra row tells whether another page exists without a count query.
      const rows = await listDocuments(db, collection.id, {
        limit: query.limit + 1,
        after: query.after,
        kind: query.kind,
        search: query.q,
      })
      const page = rows.slice(0, query.limit)
      const nextCursor = rows.length > query.limit ? (page[page.length - 1]?.sourceId ?? null) : null
      return c.json({ data: page.map(toDocumentItem), nextCursor }, 200)
    },
  )

  const requireDocument = async (key: ApiKey, name: string, id: number) => {
    assertCollectionAllowed(key, name)
    const collection = await requireCollection(db, name)
    const document = await findDocument(db, collection.id, id)
    if (!document) throw new AppError('not_found', `The collection "${name}" has no document ${id}.`)
    return document
  }

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'get',
      path: '/v1/collections/{name}/documents/{id}',
      tags: ['collections'],
      summary: 'One document of the collection, with its chunk counts',
      request: { params: DocumentParams },
      responses: {
        200: { description: 'The document', content: { 'application/json': { schema: DocumentItem } } },
        ...problemResponses(400, 404),
      },
    }),
    async (c) => {
      const { name, id } = c.req.valid('param')
      return c.json(toDocumentItem(await requireDocument(c.get('apiKey'), name, id)), 200)
    },
  )

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'get',
      path: '/v1/collections/{name}/documents/{id}/chunks',
      tags: ['collections'],
      summary: 'A document’s chunks in reading order: heading path, tokens, text, embedded or not',
      request: { params: DocumentParams, query: ChunkQuery },
      responses: {
        200: { description: 'A page of chunks', content: { 'application/json': { schema: ChunkPage } } },
        ...problemResponses(400, 404),
      },
    }),
    async (c) => {
      const { name, id } = c.req.valid('param')
      const query = c.req.valid('query')
      const document = await requireDocument(c.get('apiKey'), name, id)
      const rows = await listDocumentChunks(db, document.id, {
        limit: query.limit + 1,
        afterOrdinal: query.after,
      })
      const page = rows.slice(0, query.limit)
      const nextCursor = rows.length > query.limit ? (page[page.length - 1]?.ordinal ?? null) : null
      return c.json({ data: page.map(toChunkItem), nextCursor }, 200)
    },
  )
}
