import { type OpenAPIHono, z } from '@hono/zod-openapi'
import { KeyId, Scope } from '../../../auth/api-keys.js'
import { createKey, ensureCanGrant, listKeys, revokeKey } from '../../../auth/manage-keys.js'
import { CollectionName } from '../../../collections/collection-name.js'
import type { Services } from '../../../services.js'
import type { AppEnv } from '../../context.js'
import { problemResponses } from '../../problem.js'
import { protectedRoute } from '../../protected-route.js'

const KeySummary = z
  .object({
    id: z.string(),
    name: z.string(),
    scopes: z.array(Scope),
    collections: z.array(z.string()).nullable(),
    createdAt: z.string(),
    revokedAt: z.string().nullable(),
    lastUsedAt: z.string().nullable(),
    rateLimitRpm: z
      .number()
      .int()
      .nullable()
      .openapi({ description: 'null: the server default; 0: unlimited' }),
    rateLimitTpm: z
      .number()
      .int()
      .nullable()
      .openapi({ description: 'null: the server default; 0: unlimited' }),
  })
  .openapi('ApiKey')

const CreateKeyRequest = z
  .object({
    name: z.string().trim().min(1).max(200),
    scopes: z.array(Scope).min(1).max(2),
    collections: z.array(CollectionName).min(1).max(100).optional().openapi({
      description: 'Collections this key may use; omit for all.',
    }),
    rateLimitRpm: z.number().int().min(0).max(1_000_000).nullable().optional().openapi({
      description:
        'Requests per minute for this key. Omit or null for the server default (RATE_LIMIT_RPM); 0 for unlimited.',
    }),
    rateLimitTpm: z.number().int().min(0).max(1_000_000_000).nullable().optional().openapi({
      description: 'Model tokens per minute for this key. Omit or null for RATE_LIMIT_TPM; 0 for unlimited.',
    }),
  })
  .strict()
  .openapi('CreateKeyRequest')

const CurrentKey = z
  .object({
    id: z.string(),
    name: z.string(),
    scopes: z.array(Scope),
    collections: z
      .array(z.string())
      .nullable()
      .openapi({ description: 'The collections this key may use; null: every collection' }),
  })
  .openapi('CurrentApiKey')

const CreatedKey = KeySummary.extend({
  key: z.string().openapi({ description: 'The secret. Shown once; only its hash is stored.' }),
}).openapi('CreatedApiKey')

export function registerKeyRoutes(app: OpenAPIHono<AppEnv>, services: Services): void {
  const db = services.db.pool

  // Any live key may ask what it is: the console signs in with it and shows only what the key may use.
  app.openapi(
    protectedRoute(services, Scope.options, {
      method: 'get',
      path: '/v1/me',
      tags: ['keys'],
      summary: 'The API key making the request: its name, scopes and collection allowlist',
      responses: {
        200: { description: 'The key', content: { 'application/json': { schema: CurrentKey } } },
      },
    }),
    (c) => {
      const key = c.get('apiKey')
      return c.json(
        { id: key.id, name: key.name, scopes: key.scopes, collections: key.collections ?? null },
        200,
      )
    },
  )
  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'get',
      path: '/v1/keys',
      tags: ['keys'],
      summary: 'List API keys (never their secrets)',
      description: 'A key limited to some collections sees only keys limited to (some of) those collections.',
      responses: {
        200: {
          description: 'Keys',
          content: { 'application/json': { schema: z.object({ data: z.array(KeySummary) }) } },
        },
      },
    }),
    async (c) => c.json({ data: await listKeys(db, c.get('apiKey')) }, 200),
  )

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'post',
      path: '/v1/keys',
      tags: ['keys'],
      summary: 'Create an API key; the response holds the secret once',
      request: { body: { required: true, content: { 'application/json': { schema: CreateKeyRequest } } } },
      responses: {
        201: { description: 'Created', content: { 'application/json': { schema: CreatedKey } } },
        ...problemResponses(400, 413),
      },
    }),
    async (c) => {
      const input = c.req.valid('json')
      ensureCanGrant(c.get('apiKey'), input.collections)
      return c.json(await createKey(db, input), 201)
    },
  )

  app.openapi(
    protectedRoute(services, 'admin', {
      method: 'delete',
      path: '/v1/keys/{id}',
      tags: ['keys'],
      summary: 'Revoke an API key',
      description:
        'A key limited to some collections may revoke only keys limited to (some of) those; any other is 404.',
      request: { params: z.object({ id: KeyId }) },
      responses: { 204: { description: 'Revoked' }, ...problemResponses(400, 404) },
    }),
    async (c) => {
      const { id } = c.req.valid('param')
      await revokeKey(db, id, c.get('apiKey'))
      services.apiKeys.forget(id)
      return c.body(null, 204)
    },
  )
}
