/**
 * Values PostgreSQL would refuse, made storable, for logs that must be written whatever they hold (a
 * model's reply, a caller's input): a row with a replaced character or a null count beats no row.
 */

/** The largest PostgreSQL `integer`; ids and numbers beyond it must be refused before any query. */
export const INT4_MAX = 2_147_483_647
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

/** PostgreSQL text cannot hold NUL, nor jsonb a lone surrogate: both become U+FFFD. */
export function storableText(text: string): string
export function storableText(text: string | null): string | null
export function storableText(text: string | null): string | null {
  if (text === null) return null
  return text.replaceAll('\u0000', '\uFFFD').replace(LONE_SURROGATE, '\uFFFD')
}

/** JSON for a jsonb column, every string in it storable (jsonb refuses `\u0000` and lone surrogates). */
export function storableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? storableText(v) : v))
}

/** A count for an `integer` column, or null when it is no whole number from 0 to the column's maximum. */
export function storableCount(value: number | null): number | null {
  return value !== null && Number.isSafeInteger(value) && value >= 0 && value <= INT4_MAX ? value : null
}

/** A `numeric(precision, scale)` column's value, or null when it is not finite or does not fit. */
export function storableNumeric(value: number | null, precision: number, scale: number): number | null {
  return value !== null && Number.isFinite(value) && Math.abs(value) < 10 ** (precision - scale)
    ? value
    : null
}
