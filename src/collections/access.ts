import { AppError } from '../errors.js'

/** What the check needs of an API key: its collection allowlist (absent: every collection). */
export interface CollectionAllowlist {
  collections?: string[]
}

/** Whether a key's collection allowlist (none: every collection) includes `name`. */
export function canUseCollection(key: CollectionAllowlist, name: string): boolean {
  return key.collections === undefined || key.collections.includes(name)
}

/**
 * Refuse (403) a collection outside the key's allowlist. Callers check before looking the collection
 * up, so a key cannot learn which collections outside its list exist.
 */
export function assertCollectionAllowed(key: CollectionAllowlist, name: string): void {
  if (!canUseCollection(key, name)) {
    throw new AppError('forbidden', `This API key may not use the collection "${name}".`)
  }
}
