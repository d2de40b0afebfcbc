/** z for a two-sided 95% interval. */
const Z95 = 1.959963984540054

export interface Interval {
  low: number
  high: number
}

/**
 * Wilson score interval for `successes` of `trials` (95%): unlike the normal approximation it stays
 * inside [0, 1] and is sensible at 0 and at `trials` successes, which small evaluation sets hit often.
 */
export function wilson(successes: number, trials: number, z = Z95): Interval | null {
  if (trials === 0) return null
  const p = successes / trials
  const z2 = z * z
  const denominator = 1 + z2 / trials
  const centre = (p + z2 / (2 * trials)) / denominator
  const half = (z * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials))) / denominator
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) }
}

/** Mean with a normal-approximation 95% interval (null interval below two values). */
export function meanInterval(values: readonly number[]): { mean: number | null; interval: Interval | null } {
  if (values.length === 0) return { mean: null, interval: null }
  const mean = values.reduce((s, v) => s + v, 0) / values.length
  if (values.length < 2) return { mean, interval: null }
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / (values.length - 1)
  const half = Z95 * Math.sqrt(variance / values.length)
  return { mean, interval: { low: mean - half, high: mean + half } }
}

/** The q-quantile (0..1) by linear interpolation between closest ranks; null for no values. */
export function quantile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  const position = (sorted.length - 1) * q
  const lower = Math.floor(position)
  const upper = Math.ceil(position)
  return sorted[lower]! + (sorted[upper]! - sorted[lower]!) * (position - lower)
}
