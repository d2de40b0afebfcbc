import { useRef, useState } from 'preact/hooks'
import { upload } from '../api.js'
import { count, plural } from '../format.js'
import { ErrorMessage } from '../ui.js'

const ACCEPT = '.md,.markdown,.mdx,.txt,.html,.htm,.csv,.json,.jsonl,.ndjson'

interface Accepted {
  jobId: string
}

function sameFile(a: File, b: File): boolean {
  return a.name === b.name && a.size === b.size && a.lastModified === b.lastModified
}

/**
 * Choose files with the picker or drop them on the zone, pick a mode, upload: the server queues a job
 * (202) and `onQueued` hands its id to the job list, which follows it.
 */
export function UploadForm({
  collection,
  onQueued,
}: {
  collection: string
  onQueued: (jobId: string) => void
}) {
  const [files, setFiles] = useState<File[]>([])
  const [mode, setMode] = useState('upsert')
  const [kind, setKind] = useState('')
  const [idColumn, setIdColumn] = useState('')
  const [dragging, setDragging] = useState(false)
  const [sent, setSent] = useState<number | null>(null)
  const [error, setError] = useState<unknown>()
  const input = useRef<HTMLInputElement>(null)

  const add = (list: FileList | null | undefined) => {
    if (!list || list.length === 0) return
    const incoming = [...list]
    setFiles((current) => [...current, ...incoming.filter((f) => !current.some((c) => sameFile(c, f)))])
    setError(undefined)
  }

  const submit = async (event: Event) => {
    event.preventDefault()
    if (files.length === 0) return
    const form = new FormData()
    for (const file of files) form.append('files', file, file.name)
    form.append('mode', mode)
    if (kind) form.append('kind', kind)
    if (idColumn.trim()) form.append('idColumn', idColumn.trim())
    setSent(0)
    setError(undefined)
    try {
      const accepted = await upload<Accepted>(
        `/v1/collections/${encodeURIComponent(collection)}/ingest`,
        form,
        setSent,
      )
      setFiles([])
      if (input.current) input.current.value = ''
      onQueued(accepted.jobId)
    } catch (caught) {
      setError(caught)
    } finally {
      setSent(null)
    }
  }

  const bytes = files.reduce((sum, f) => sum + f.size, 0)
  return (
    <form class="upload card" onSubmit={submit} aria-labelledby="upload-title">
      <h2 id="upload-title">Add files</h2>
      <fieldset
        class={`dropzone${dragging ? ' dragging' : ''}`}
        data-testid="dropzone"
        onDragOver={(e) => {
          e.preventDefault()
          setDragging(true)
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={(e) => {
          e.preventDefault()
          setDragging(false)
          add(e.dataTransfer?.files)
        }}
      >
        <legend class="visually-hidden">Files</legend>
        <p>Drop guideline files (Markdown, text, HTML) or product exports (CSV, JSON, JSONL) here, or</p>
        <label for="upload-files" class="file-label">
          Files to upload
        </label>
        <input
          ref={input}
          id="upload-files"
          type="file"
          multiple
          accept={ACCEPT}
          onChange={(e) => add(e.currentTarget.files)}
        />
      </fieldset>
      {files.length > 0 && (
        <div class="selected">
          <p>
            {plural(files.length, 'file')} selected ({count(Math.ceil(bytes / 1024))} KB):
          </p>
          <ul>
            {files.map((file) => (
              <li key={`${file.name}:${file.size}:${file.lastModified}`}>
                {file.name}{' '}
                <button
                  type="button"
                  class="link"
                  aria-label={`Remove ${file.name}`}
                  onClick={() => setFiles((current) => current.filter((f) => f !== file))}
                >
                  remove
                </button>
              </li>
            ))}
          </ul>
        </div>
      )}
      <div class="row">
        <label>
          Mode
          <select value={mode} onChange={(e) => setMode(e.currentTarget.value)}>
            <option value="upsert">Add and update</option>
            <option value="sync">Sync: also delete documents missing from these files</option>
          </select>
        </label>
        <label>
          Kind
          <select value={kind} onChange={(e) => setKind(e.currentTarget.value)}>
            <option value="">By file type</option>
            <option value="guideline">Guidelines</option>
            <option value="product">Products</option>
          </select>
        </label>
        <label>
          Product id column
          <input
            value={idColumn}
            placeholder="sku"
            onInput={(e) => setIdColumn(e.currentTarget.value)}
            maxLength={200}
          />
        </label>
      </div>
      <div class="actions">
        <button type="submit" disabled={files.length === 0 || sent !== null}>
          {files.length > 1 ? `Upload ${files.length} files` : 'Upload'}
        </button>
        {sent !== null && (
          <label class="inline-progress">
            Uploading <progress max={1} value={sent} /> {Math.round(sent * 100)}%
          </label>
        )}
      </div>
      <ErrorMessage error={error} />
    </form>
  )
}
