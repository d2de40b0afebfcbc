/**
 * The ingest jobs a collection page shows: those started from this tab and the collection's latest job,
 * until the user dismisses them. Kept in sessionStorage, so a reload shows the same jobs (their state
 * always comes from the API) and problems stay listed until someone has read them.
 */

const item = (collection: string) => `onbrand.console.jobs.${collection}`

interface Tracked {
  shown: string[]
  dismissed: string[]
}

function read(collection: string): Tracked {
  try {
    const parsed = JSON.parse(sessionStorage.getItem(item(collection)) ?? '{}') as Partial<Tracked>
    return { shown: parsed.shown ?? [], dismissed: parsed.dismissed ?? [] }
  } catch {
    return { shown: [], dismissed: [] }
  }
}

function write(collection: string, tracked: Tracked): void {
  // Bounded: a long session must not grow the list without end.
  sessionStorage.setItem(
    item(collection),
    JSON.stringify({ shown: tracked.shown.slice(0, 50), dismissed: tracked.dismissed.slice(0, 200) }),
  )
}

/** Job ids to show, newest first; `latest` (the collection's last job) is added unless dismissed. */
export function trackedJobs(collection: string, latest?: string): string[] {
  const tracked = read(collection)
  if (latest && !tracked.shown.includes(latest) && !tracked.dismissed.includes(latest)) {
    tracked.shown.unshift(latest)
    write(collection, tracked)
  }
  return tracked.shown
}

export function trackJob(collection: string, jobId: string): void {
  const tracked = read(collection)
  write(collection, { ...tracked, shown: [jobId, ...tracked.shown.filter((id) => id !== jobId)] })
}

export function dismissJob(collection: string, jobId: string): void {
  const tracked = read(collection)
  write(collection, {
    shown: tracked.shown.filter((id) => id !== jobId),
    dismissed: [jobId, ...tracked.dismissed.filter((id) => id !== jobId)],
  })
}
