import { findActiveTaskVersion, type TaskVersionRow } from '../db/tasks.js'
import type { Queryable } from '../db/transaction.js'

/**
 * Active task versions, kept for a short time so a generation request does not spend a database round
 * trip on a row that changes a few times a day. Writes through this process invalidate at once; another
 * process's PUT or activation is seen within `ttlMs`. Concurrent misses for one task share one query.
 */
export class ActiveTaskCache {
  readonly #entries = new Map<string, { value: Promise<TaskVersionRow | undefined>; expiresAt: number }>()

  constructor(
    private readonly db: Queryable,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(name: string): Promise<TaskVersionRow | undefined> {
    if (this.ttlMs === 0) return findActiveTaskVersion(this.db, name)
    const hit = this.#entries.get(name)
    if (hit && hit.expiresAt > this.now()) return hit.value
    const entry = { value: findActiveTaskVersion(this.db, name), expiresAt: this.now() + this.ttlMs }
    this.#entries.set(name, entry)
    entry.value.catch(() => {
      if (this.#entries.get(name) === entry) this.#entries.delete(name)
    })
    // Names come from requests: bound the map so unknown names cannot grow it without limit.
    if (this.#entries.size > 10_000) this.#entries.delete(this.#entries.keys().next().value as string)
    return entry.value
  }

  invalidate(name: string): void {
    this.#entries.delete(name)
  }
}
