import type { CurrentKey } from './types.js'

/** What a key may see: pages are offered, and rendered, only for the scopes that can use them. */
export interface Abilities {
  admin: boolean
  generate: boolean
  /** May review generations: the review scope, or admin. */
  review: boolean
  /** The collections the key may use; null: every one. */
  collections: string[] | null
}

export function abilitiesOf(key: CurrentKey): Abilities {
  return {
    admin: key.scopes.includes('admin'),
    generate: key.scopes.includes('generate'),
    review: key.scopes.includes('review') || key.scopes.includes('admin'),
    collections: key.collections,
  }
}
