import { useEffect, useState } from 'preact/hooks'
import { call } from '../api.js'
import { count, dateTime } from '../format.js'
import { href } from '../router.js'
import type { Chunk, DocumentItem, Page } from '../types.js'
import { ErrorMessage, Loading, PageTitle } from '../ui.js'
import { useCall } from '../use-call.js'

/** One document: its metadata and its chunks in reading order (heading path, tokens, embedded or not). */
export function DocumentPage({ collection, id }: { collection: string; id: number }) {
  const base = `/v1/collections/${encodeURIComponent(collection)}/documents/${id}`
  const doc = useCall((signal) => call<DocumentItem>(base, { signal }), [base])
  const [chunks, setChunks] = useState<Chunk[]>([])
  const [next, setNext] = useState<number | null>(null)
  const [error, setError] = useState<unknown>()
  const [loading, setLoading] = useState(true)

  const load = async (after?: number) => {
    setLoading(true)
    try {
      const query = new URLSearchParams({ limit: '100' })
      if (after !== undefined) query.set('after', String(after))
      const page = await call<Page<Chunk, number>>(`${base}/chunks?${query}`)
      setChunks((current) => (after === undefined ? page.data : [...current, ...page.data]))
      setNext(page.nextCursor)
      setError(undefined)
    } catch (caught) {
      setError(caught)
    } finally {
      setLoading(false)
    }
  }
  useEffect(() => {
    void load()
  }, [base])

  const d = doc.data
  return (
    <>
      <p class="crumbs">
        <a href={href('collections')}>Collections</a> /{' '}
        <a href={href('collections', collection)}>{collection}</a> /
      </p>
      <PageTitle>{d ? d.title || d.sourceId : `Document ${id}`}</PageTitle>
      <ErrorMessage error={doc.error} />
      {d && (
        <dl class="stats">
          <div>
            <dt>Source id</dt>
            <dd>
              <code>{d.sourceId}</code>
            </dd>
          </div>
          <div>
            <dt>Kind</dt>
            <dd>{d.kind}</dd>
          </div>
          <div>
            <dt>Chunks</dt>
            <dd>
              {count(d.chunkCount)} ({count(d.embeddedChunkCount)} embedded)
            </dd>
          </div>
          <div>
            <dt>Updated</dt>
            <dd>{dateTime(d.updatedAt)}</dd>
          </div>
          <div>
            <dt>Content hash</dt>
            <dd>
              <code title={d.contentHash}>{d.contentHash.slice(0, 12)}</code>
            </dd>
          </div>
        </dl>
      )}
      {d && Object.keys(d.metadata).length > 0 && (
        <details class="metadata">
          <summary>Metadata ({Object.keys(d.metadata).length} fields)</summary>
          <table>
            <tbody>
              {Object.entries(d.metadata).map(([key, value]) => (
                <tr key={key}>
                  <th scope="row">{key}</th>
                  <td>{typeof value === 'string' ? value : JSON.stringify(value)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      )}
      <section aria-labelledby="chunks-title">
        <h2 id="chunks-title">Chunks</h2>
        <ErrorMessage error={error} />
        {loading && chunks.length === 0 && <Loading what="chunks" />}
        <ol class="chunks">
          {chunks.map((chunk) => (
            <li key={chunk.id} class="chunk card" data-ordinal={chunk.ordinal}>
              <div class="chunk-head">
                <span class="ordinal">#{chunk.ordinal + 1}</span>
                <span class="heading-path">{chunk.headingPath || <em class="muted">no heading</em>}</span>
                <span class="tokens">{count(chunk.tokens)} tokens</span>
                {chunk.embedded ? (
                  <span class="badge badge-succeeded" title={`Embedded with ${chunk.embeddingModel}`}>
                    Embedded
                  </span>
                ) : (
                  <span class="badge badge-queued" title="Found by full-text search until it is embedded">
                    Not embedded
                  </span>
                )}
              </div>
              <pre class="chunk-text">{chunk.text}</pre>
            </li>
          ))}
        </ol>
        {next !== null && (
          <button type="button" class="secondary" disabled={loading} onClick={() => load(next)}>
            Load more chunks
          </button>
        )}
      </section>
    </>
  )
}
