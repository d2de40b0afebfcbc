/** Counters of a job, saved as it goes; `cursor` is how many documents are finished (in load order). */
export interface JobProgress {
  phase: 'loading' | 'documents' | 'deleting' | 'backfill' | 'done'
  files: { total: number; done: number }
  documents: {
    total: number
    done: number
    added: number
    updated: number
    unchanged: number
    deleted: number
  }
  chunks: { embedded: number; reused: number; pending: number }
  errors: number
  /** Sync jobs: whether documents missing from the source were deleted, and if not, why. */
  sync?: { deletion: 'done' | 'skipped'; reason?: string }
  /** When the current attempt started and how far the job was then: the ETA is measured from there. */
  attempt: { startedAt: string; doneAtStart: number }
  cursor: number
}

export function freshProgress(): JobProgress {
  return {
    phase: 'loading',
    files: { total: 0, done: 0 },
    documents: { total: 0, done: 0, added: 0, updated: 0, unchanged: 0, deleted: 0 },
    chunks: { embedded: 0, reused: 0, pending: 0 },
    errors: 0,
    attempt: { startedAt: new Date().toISOString(), doneAtStart: 0 },
    cursor: 0,
  }
}

/** A resumed job keeps the counters saved with its cursor; anything after the cursor is redone. */
export function resumeProgress(saved: unknown, documentTotal: number): JobProgress {
  const fresh = freshProgress()
  if (!isProgress(saved) || saved.documents.total !== documentTotal) return fresh
  return { ...saved, attempt: { startedAt: fresh.attempt.startedAt, doneAtStart: saved.cursor } }
}

function isProgress(value: unknown): value is JobProgress {
  return (
    typeof value === 'object' &&
    value !== null &&
    'cursor' in value &&
    typeof (value as JobProgress).cursor === 'number' &&
    typeof (value as JobProgress).documents?.total === 'number'
  )
}

/** Seconds left at the current attempt's pace; undefined until there is a pace to go by. */
export function estimateSecondsLeft(progress: JobProgress, now = Date.now()): number | undefined {
  const { total, done } = progress.documents
  const doneThisAttempt = done - progress.attempt.doneAtStart
  const elapsed = (now - Date.parse(progress.attempt.startedAt)) / 1000
  if (progress.phase === 'done') return 0
  if (doneThisAttempt <= 0 || elapsed <= 0 || total === 0) return undefined
  return Math.max(0, Math.round(((total - done) * elapsed) / doneThisAttempt))
}
