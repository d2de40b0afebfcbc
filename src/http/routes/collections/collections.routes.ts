import { type OpenAPIHono, z } from '@hono/zod-openapi'
import { assertCollectionAllowed, canUseCollection } from '../../../collections/access.js'
import { CollectionName } from '../../../collections/collection-name.js'
import {
  createCollection,
  describeCollection,
  describeCollections,
  removeCollection,
  requireCollection,
} from '../../../collections/manage-collections.js'
import { listDocuments } from '../../../db/documents.js'
import type { Services } from '../../../services.js'
import type { AppEnv } from '../../context.js'
import { problemResponses } from '../../problem.js'
import { protectedRoute } from '../../protected-route.js'
import {
  Collection,
  CreateCollectionRequest,
  DocumentPage,
  DocumentQuery,
  toCollection,
  toDocumentItem,
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
      const rows = await listDocuments(db, collection.id, { ...query, limit: query.limit + 1 })
      const page = rows.slice(0, query.limit)
      const nextCursor = rows.length > query.limit ? (page[page.length - 1]?.sourceId ?? null) : null
      return c.json({ data: page.map(toDocumentItem), nextCursor }, 200)
    },
  )
}
