/**
 * The progress every kind of job reports besides its own fields: how many units of work there are and
 * how many are done, and where the current attempt started, so the ETA is measured at this attempt's
 * pace (a resumed job's earlier work does not make it look fast).
 */
export interface JobCounters {
  phase: string
  /** What is counted: `results`, `documents`, … */
  unit: string
  total: number
  done: number
  attempt: { startedAt: string; doneAtStart: number }
}

/** Counters for a new attempt: those saved by an earlier one are kept (done work stays done). */
export function startAttempt(saved: unknown, total: number, unit: string, now = Date.now()): JobCounters {
  const previous = isCounters(saved) ? saved : undefined
  const done = previous ? Math.min(previous.done, total) : 0
  return {
    phase: previous?.phase ?? 'running',
    unit,
    total,
    done,
    attempt: { startedAt: new Date(now).toISOString(), doneAtStart: done },
  }
}

function isCounters(value: unknown): value is JobCounters {
  if (typeof value !== 'object' || value === null) return false
  const v = value as Partial<JobCounters>
  return typeof v.done === 'number' && typeof v.total === 'number' && typeof v.phase === 'string'
}

/** Seconds left at the current attempt's pace; undefined until there is a pace to go by. */
export function secondsLeft(counters: JobCounters, now = Date.now()): number | undefined {
  if (counters.done >= counters.total) return 0
  const doneThisAttempt = counters.done - counters.attempt.doneAtStart
  const elapsed = (now - Date.parse(counters.attempt.startedAt)) / 1000
  if (doneThisAttempt <= 0 || elapsed <= 0) return undefined
  return Math.max(0, Math.round(((counters.total - counters.done) * elapsed) / doneThisAttempt))
}
