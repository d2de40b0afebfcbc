import { z } from '@hono/zod-openapi'

/** A collection name, as the collections table's CHECK allows it (migrations/0001_initial.sql). */
export const CollectionName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'a collection name: lowercase letters, digits, - and _, at most 63')
  .openapi({ example: 'brand-en' })
