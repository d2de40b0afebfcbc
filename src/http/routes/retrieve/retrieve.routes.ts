import { type OpenAPIHono, z } from '@hono/zod-openapi'
import { assertCollectionAllowed } from '../../../collections/access.js'
import { retrieve } from '../../../retrieval/retrieve.js'
import { RetrieveRequest } from '../../../retrieval/types.js'
import type { Services } from '../../../services.js'
import type { AppEnv } from '../../context.js'
import { problemResponses } from '../../problem.js'
import { protectedRoute } from '../../protected-route.js'

const PassageSchema = z
  .object({
    documentId: z.number().int(),
    sourceId: z.string(),
    title: z.string(),
    kind: z.enum(['guideline', 'product']),
    headingPath: z.string().openapi({ example: 'Voice and tone > Grammar' }),
    text: z.string(),
    chunkIds: z.array(z.number().int()).openapi({ description: 'Adjacent chunks merged into this passage' }),
    tokens: z.number().int(),
    metadata: z.record(z.string(), z.unknown()),
    scores: z.object({
      vector: z
        .number()
        .nullable()
        .openapi({ description: 'Cosine similarity; null if the vector arm missed it' }),
      lexical: z.number().nullable().openapi({ description: 'BM25 score; null if no word matched' }),
      fused: z.number().openapi({
        description: "Weighted sum of both arms' z-scores (an arm that missed the chunk counts its lowest)",
      }),
    }),
    ranks: z
      .object({
        vector: z
          .number()
          .int()
          .nullable()
          .openapi({ description: 'Rank in the vector arm; null if missed' }),
        lexical: z.number().int().nullable().openapi({ description: 'Rank in the BM25 arm; null if missed' }),
        fused: z.number().int().openapi({ description: 'Rank after fusion, before packing' }),
      })
      .openapi({ description: "Best rank of the passage's chunks in each list, from 1" }),
  })
  .openapi('Passage')

const RetrieveResponse = z
  .object({
    collection: z.string(),
    mode: z.enum(['hybrid', 'lexical', 'vector']).openapi({
      description:
        'The arms that ran. `lexical` at lexicalWeight 1, or when the collection has no embedder configured ' +
        'or no embeddings yet; `vector` at lexicalWeight 0 (the BM25 arm does not run); `hybrid` otherwise.',
    }),
    passages: z.array(PassageSchema),
    usedTokens: z.number().int(),
  })
  .openapi('RetrieveResponse')

export function registerRetrieveRoutes(app: OpenAPIHono<AppEnv>, services: Services): void {
  app.openapi(
    protectedRoute(services, 'generate', {
      method: 'post',
      path: '/v1/retrieve',
      tags: ['retrieval'],
      summary:
        'Hybrid search of a collection: vector and BM25 full text, fused, filtered, packed to a token budget',
      request: { body: { required: true, content: { 'application/json': { schema: RetrieveRequest } } } },
      responses: {
        200: {
          description: 'Passages, best first',
          content: { 'application/json': { schema: RetrieveResponse } },
        },
        ...problemResponses(400, 404, 413, 502, 504),
      },
    }),
    async (c) => {
      const body = c.req.valid('json')
      // Checked before the lookup, so a key cannot learn which collections outside its list exist.
      assertCollectionAllowed(c.get('apiKey'), body.collection)
      const result = await retrieve(services.retrieval, { ...body, signal: c.req.raw.signal })
      return c.json({ collection: body.collection, ...result }, 200)
    },
  )
}
