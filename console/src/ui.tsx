import type { ComponentChildren } from 'preact'
import { useEffect, useRef } from 'preact/hooks'
import { ApiError, messageOf } from './api.js'

/** A page's title, focused when the page opens so screen readers and keyboard users start there. */
export function PageTitle({ children }: { children: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null)
  useEffect(() => {
    ref.current?.focus()
  }, [])
  return (
    <h1 ref={ref} tabIndex={-1}>
      {children}
    </h1>
  )
}

/** An error from a call, with each bad field when the API named them. */
export function ErrorMessage({ error }: { error: unknown }) {
  if (error === undefined || error === null) return null
  const fields = error instanceof ApiError ? error.errors : []
  return (
    <div class="error" role="alert">
      <p>{messageOf(error)}</p>
      {fields.length > 0 && (
        <ul>
          {fields.map((field) => (
            <li key={field.path}>
              <code>{field.path || '(body)'}</code>: {field.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  )
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  )
}

const STATUS_LABELS: Record<string, string> = {
  queued: 'Queued',
  running: 'Running',
  succeeded: 'Done',
  succeeded_with_errors: 'Done with problems',
  failed: 'Failed',
  cancelled: 'Cancelled',
  canceled: 'Cancelled',
  // Fine-tunes: the provider's steps before training.
  pending: 'Pending',
  uploading: 'Uploading',
  validating_files: 'Validating files',
}

/**
 * A job's status as a word, never only a colour. A running job is "Running" even when some files
 * already failed: the problems are listed beside it, and the job is not over.
 */
export function StatusBadge({ status, problems = 0 }: { status: string; problems?: number }) {
  const tone = status === 'succeeded' && problems > 0 ? 'succeeded_with_errors' : status
  const label =
    status === 'succeeded' && problems > 0 ? STATUS_LABELS.succeeded_with_errors : STATUS_LABELS[status]
  return <span class={`badge badge-${tone}`}>{label ?? status}</span>
}

/** The document kind filter: any, guidelines or products. */
export function KindSelect({ value, onChange }: { value: string; onChange: (kind: string) => void }) {
  return (
    <label>
      Kind
      <select value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">Any</option>
        <option value="guideline">Guidelines</option>
        <option value="product">Products</option>
      </select>
    </label>
  )
}
