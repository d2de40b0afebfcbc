/** Postgres error codes this code base handles by name. */
export const UNIQUE_VIOLATION = '23505'
export const FOREIGN_KEY_VIOLATION = '23503'
/** A lock wait ran past lock_timeout. */
export const LOCK_NOT_AVAILABLE = '55P03'
export const DEADLOCK_DETECTED = '40P01'
/** Text PostgreSQL cannot store: a NUL in `text` (22021) or a `\u0000` escape in `jsonb` (22P05). */
const CHARACTER_NOT_IN_REPERTOIRE = '22021'
const UNTRANSLATABLE_CHARACTER = '22P05'

// Server going away or refusing work: the request may succeed once it is back.
const UNAVAILABLE_CODES = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000', // connection_exception
  '08003', // connection_does_not_exist
  '08006', // connection_failure
  '53300', // too_many_connections
  '53100', // disk_full: writes fail until space is freed; reads still work
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
])

export function pgErrorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code
    return typeof code === 'string' ? code : undefined
  }
  return undefined
}

export function isDatabaseUnavailable(error: unknown): boolean {
  const code = pgErrorCode(error)
  if (code !== undefined && UNAVAILABLE_CODES.has(code)) return true
  const message = error instanceof Error ? error.message : ''
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
    message,
  )
}

/** A value from the request holds a character the database refuses (PostgreSQL text cannot hold NUL). */
export function isUnstorableText(error: unknown): boolean {
  const code = pgErrorCode(error)
  return code === CHARACTER_NOT_IN_REPERTOIRE || code === UNTRANSLATABLE_CHARACTER
}
