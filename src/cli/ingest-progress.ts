import type { IngestIssue } from '../../ingest/loaders/types.js'
import { estimateSecondsLeft, type JobProgress } from '../../ingest/pipeline/progress.js'

const BAR_WIDTH = 24
const PLAIN_INTERVAL_MS = 5000

/**
 * Progress on stderr: a single redrawn line on a terminal, a plain line every few seconds
 * otherwise (CI logs, pipes), so both stay readable.
 */
export function createProgressReporter(
  stream: NodeJS.WriteStream = process.stderr,
  { backfill = false }: { backfill?: boolean } = {},
) {
  const tty = stream.isTTY === true
  let lastPlain = 0
  let drawn = false
  let last: JobProgress | undefined
  return {
    update(progress: JobProgress): void {
      last = progress
      const line = describe(progress, backfill)
      if (tty) {
        const width = stream.columns ?? 120
        stream.write(`\r${line.slice(0, width - 1).padEnd(Math.min(width - 1, line.length + 2))}`)
        drawn = true
      } else if (Date.now() - lastPlain >= PLAIN_INTERVAL_MS) {
        lastPlain = Date.now()
        stream.write(`${line}\n`)
      }
    },
    end(): void {
      if (tty && drawn) stream.write('\n')
      else if (!tty && last) stream.write(`${describe(last, backfill)}\n`)
    },
  }
}

/** A backfill reads no documents: its line counts chunks only, while it runs and when it is done. */
function describe(p: JobProgress, backfill: boolean): string {
  if (backfill || p.phase === 'backfill')
    return `backfill  embedded ${p.chunks.embedded}  reused ${p.chunks.reused}  errors ${p.errors}`
  const { total, done } = p.documents
  const filled = total === 0 ? BAR_WIDTH : Math.round((done / total) * BAR_WIDTH)
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`
  const eta = estimateSecondsLeft(p)
  return (
    `${bar} ${done}/${total} docs  +${p.documents.added} ~${p.documents.updated} =${p.documents.unchanged}` +
    `  chunks embedded ${p.chunks.embedded} reused ${p.chunks.reused}  errors ${p.errors}` +
    (eta === undefined ? '' : `  ETA ${formatSeconds(eta)}`)
  )
}

function formatSeconds(seconds: number): string {
  return seconds < 60
    ? `${seconds}s`
    : `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`
}

/** The end-of-run table, for people; the same numbers are on GET /v1/ingest-jobs/{id}. */
export function formatSummary(input: {
  collection: string
  status: string
  error: string | null
  progress: JobProgress
  errors: IngestIssue[]
  seconds: number
}): string {
  const { progress: p } = input
  const rows: [string, string | number][] = [
    ['collection', input.collection],
    ['status', input.status],
    ['files', p.files.total],
    ['documents added', p.documents.added],
    ['documents updated', p.documents.updated],
    ['documents unchanged', p.documents.unchanged],
    ['documents deleted', p.documents.deleted],
    ['chunks embedded', p.chunks.embedded],
    ['chunks reused', p.chunks.reused],
    ['chunks without embedding', p.chunks.pending],
    ['errors', input.errors.length],
    ['time', `${input.seconds.toFixed(1)}s`],
  ]
  const width = Math.max(...rows.map(([label]) => label.length))
  const lines = rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`)
  if (input.error) lines.push('', `  job failed: ${input.error}`)
  if (input.errors.length > 0) {
    lines.push('', '  problems:')
    for (const issue of input.errors.slice(0, 50)) {
      lines.push(`    ${issue.file}${issue.row === undefined ? '' : ` row ${issue.row}`}: ${issue.message}`)
    }
    if (input.errors.length > 50)
      lines.push(`    … and ${input.errors.length - 50} more (GET /v1/ingest-jobs/{id})`)
  }
  if (p.chunks.pending > 0) {
    lines.push(
      '',
      '  Chunks were stored without embeddings (no model provider configured): full-text search works now;',
      '  set OPENAI_BASE_URL / OPENAI_API_KEY and run `onbrand ingest --backfill --collection NAME`.',
    )
  }
  return `${lines.join('\n')}\n`
}
