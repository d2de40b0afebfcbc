import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto'
import { z } from 'zod'

/** generate: run tasks; review: read, rate, approve and correct generations; admin: everything else. */
export const Scope = z.enum(['generate', 'admin', 'review'])
export type Scope = z.infer<typeof Scope>

export interface ApiKey {
  id: string
  name: string
  scopes: Scope[]
  /** Collections this key may use; undefined means all. */
  collections?: string[]
}

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789'
const ID = '[a-z0-9]{12}'
const KEY_PATTERN = new RegExp(`^onb_(${ID})_([A-Za-z0-9_-]{43})$`)

/** The public part of a key, which names it in the API (`DELETE /v1/keys/{id}`). */
export const KeyId = z.string().regex(new RegExp(`^${ID}$`), 'a 12-character key id')

/**
 * A key is `onb_<id>_<secret>`: the id is public and finds the row, the 256-bit secret is proven by
 * comparing SHA-256 hashes in constant time. A fast hash is right here because the secret is random,
 * not a password: there is nothing to brute-force from the hash.
 */
export function generateApiKey(): { id: string; key: string; hash: Buffer } {
  let id = ''
  for (let i = 0; i < 12; i++) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)]
  const key = `onb_${id}_${randomBytes(32).toString('base64url')}`
  return { id, key, hash: hashApiKey(key) }
}

export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest()
}

/** The key id if the text has the shape of a key; never throws on hostile input. */
export function parseApiKeyId(key: string): string | undefined {
  return KEY_PATTERN.exec(key)?.[1]
}

/** Constant-time comparison of the presented key's hash with the stored one. */
export function apiKeyHashMatches(presentedHash: Buffer, storedHash: Buffer): boolean {
  return presentedHash.length === storedHash.length && timingSafeEqual(presentedHash, storedHash)
}
