import { useState } from 'preact/hooks'
import { call } from '../api.js'
import { count, dateTime } from '../format.js'
import { href } from '../router.js'
import type { DocumentItem, Page } from '../types.js'
import { ErrorMessage, KindSelect, Loading } from '../ui.js'
import { useCall } from '../use-call.js'

const PAGE_SIZE = 25

/** A collection's documents, filtered by text and kind, a page at a time (cursor pagination). */
export function DocumentList({ collection, version }: { collection: string; version: number }) {
  const [search, setSearch] = useState('')
  const [kind, setKind] = useState('')
  const [applied, setApplied] = useState({ search: '', kind: '' })
  // The cursors of the pages before this one, for "Previous".
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined])
  const after = cursors[cursors.length - 1]
  const page = useCall(
    (signal) => {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE) })
      if (after) query.set('after', after)
      if (applied.search) query.set('q', applied.search)
      if (applied.kind) query.set('kind', applied.kind)
      return call<Page<DocumentItem, string>>(
        `/v1/collections/${encodeURIComponent(collection)}/documents?${query}`,
        { signal },
      )
    },
    [collection, after, applied.search, applied.kind, version],
  )

  return (
    <section class="documents" aria-labelledby="documents-title">
      <h2 id="documents-title">Documents</h2>
      <form
        class="filters row"
        aria-label="Filter documents"
        onSubmit={(e) => {
          e.preventDefault()
          setApplied({ search: search.trim(), kind })
          setCursors([undefined])
        }}
      >
        <label>
          Source id or title contains
          <input
            type="search"
            value={search}
            maxLength={200}
            onInput={(e) => setSearch(e.currentTarget.value)}
          />
        </label>
        <KindSelect value={kind} onChange={setKind} />
        <button type="submit" class="secondary">
          Filter
        </button>
      </form>
      <ErrorMessage error={page.error} />
      {page.loading && !page.data && <Loading what="documents" />}
      {page.data && page.data.data.length === 0 && (
        <p class="muted">{applied.search || applied.kind ? 'No document matches.' : 'No documents yet.'}</p>
      )}
      {page.data && page.data.data.length > 0 && (
        <table class="document-table" aria-busy={page.loading}>
          <thead>
            <tr>
              <th scope="col">Source id</th>
              <th scope="col">Title</th>
              <th scope="col">Kind</th>
              <th scope="col" class="num">
                Chunks
              </th>
              <th scope="col" class="num">
                Embedded
              </th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {page.data.data.map((doc) => (
              <tr key={doc.id}>
                <td>
                  <a href={href('collections', collection, 'documents', doc.id)}>{doc.sourceId}</a>
                </td>
                <td>{doc.title}</td>
                <td>{doc.kind}</td>
                <td class="num">{count(doc.chunkCount)}</td>
                <td class="num">
                  {count(doc.embeddedChunkCount)} of {count(doc.chunkCount)}
                </td>
                <td>{dateTime(doc.updatedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div class="pager">
        <button
          type="button"
          class="secondary"
          disabled={cursors.length === 1}
          onClick={() => setCursors((list) => list.slice(0, -1))}
        >
          Previous page
        </button>
        <span class="muted">Page {cursors.length}</span>
        <button
          type="button"
          class="secondary"
          disabled={!page.data?.nextCursor}
          onClick={() => {
            const next = page.data?.nextCursor
            if (next) setCursors((list) => [...list, next])
          }}
        >
          Next page
        </button>
      </div>
    </section>
  )
}
