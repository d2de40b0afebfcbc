import { describe, expect, it } from 'vitest'
import { isDatabaseUnavailable } from '../../src/db/pg-errors.js'

describe('database errors', () => {
  it('a write refused for a full disk (53100) is "unavailable" (503, retry), not an internal error', () => {
    // As PostgreSQL and PGlite report it: `could not extend file "base/5/16725": No space left on device`.
    const diskFull = Object.assign(
      new Error('could not extend file "base/5/16725": No space left on device'),
      {
        code: '53100',
      },
    )
    expect(isDatabaseUnavailable(diskFull)).toBe(true)
    expect(isDatabaseUnavailable(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false)
  })
})
