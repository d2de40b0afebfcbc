import { useState } from 'preact/hooks'
import type { Abilities } from '../abilities.js'
import { call } from '../api.js'
import { count, dateTime, percent } from '../format.js'
import { href, navigate } from '../router.js'
import type { Collection } from '../types.js'
import { ErrorMessage, Loading, PageTitle, StatusBadge } from '../ui.js'
import { useCall } from '../use-call.js'

export function CollectionsPage({ can }: { can: Abilities }) {
  const { data, error, loading } = useCall(
    (signal) => call<{ data: Collection[] }>('/v1/collections', { signal }),
    [],
  )
  return (
    <>
      <PageTitle>Collections</PageTitle>
      {can.collections && (
        <p class="muted">This key may use these collections only: {can.collections.join(', ')}.</p>
      )}
      <div class="split">
        <section aria-labelledby="collections-list" class="grow">
          <h2 id="collections-list" class="visually-hidden">
            All collections
          </h2>
          <ErrorMessage error={error} />
          {loading && !data && <Loading what="collections" />}
          {data && data.data.length === 0 && <p>No collections yet. Create the first one.</p>}
          {data && data.data.length > 0 && (
            <table class="collections">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col" class="num">
                    Documents
                  </th>
                  <th scope="col" class="num">
                    Chunks
                  </th>
                  <th scope="col" class="num">
                    Embedded
                  </th>
                  <th scope="col">Embedding model</th>
                  <th scope="col">Last ingest</th>
                </tr>
              </thead>
              <tbody>
                {data.data.map((c) => (
                  <tr key={c.name}>
                    <td>
                      <a href={href('collections', c.name)}>{c.name}</a>
                      {c.description && <div class="muted small">{c.description}</div>}
                    </td>
                    <td class="num">{count(c.documentCount)}</td>
                    <td class="num">{count(c.chunkCount)}</td>
                    <td class="num">{percent(c.embeddedChunkCount, c.chunkCount)}</td>
                    <td>
                      {c.embeddingModel} <span class="muted">({c.embeddingDimensions})</span>
                    </td>
                    <td>
                      {c.lastIngest ? (
                        <>
                          <StatusBadge status={c.lastIngest.status} /> {dateTime(c.lastIngest.createdAt)}
                        </>
                      ) : (
                        <span class="muted">never</span>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
        <CreateCollection />
      </div>
    </>
  )
}

function CreateCollection() {
  const [name, setName] = useState('')
  const [description, setDescription] = useState('')
  const [model, setModel] = useState('')
  const [dimensions, setDimensions] = useState('')
  const [textSearch, setTextSearch] = useState('')
  const [error, setError] = useState<unknown>()
  const [busy, setBusy] = useState(false)

  const submit = async (event: Event) => {
    event.preventDefault()
    setBusy(true)
    setError(undefined)
    try {
      const created = await call<Collection>('/v1/collections', {
        json: {
          name: name.trim(),
          ...(description.trim() ? { description: description.trim() } : {}),
          ...(model.trim() ? { embeddingModel: model.trim() } : {}),
          ...(dimensions.trim() ? { embeddingDimensions: Number(dimensions) } : {}),
          ...(textSearch.trim() ? { textSearchConfig: textSearch.trim() } : {}),
        },
      })
      navigate(href('collections', created.name))
    } catch (caught) {
      setError(caught)
    } finally {
      setBusy(false)
    }
  }

  return (
    <form class="card create" onSubmit={submit} aria-labelledby="create-title">
      <h2 id="create-title">New collection</h2>
      <label for="new-name">Name</label>
      <input
        id="new-name"
        value={name}
        onInput={(e) => setName(e.currentTarget.value)}
        required
        pattern="[a-z0-9][a-z0-9_\-]*"
        maxLength={63}
        aria-describedby="new-name-hint"
        placeholder="brand-au"
      />
      <p id="new-name-hint" class="hint">
        Lowercase letters, digits, "-" and "_".
      </p>
      <label for="new-description">Description</label>
      <input
        id="new-description"
        value={description}
        maxLength={2000}
        onInput={(e) => setDescription(e.currentTarget.value)}
      />
      <details>
        <summary>Embedding and search settings</summary>
        <label for="new-model">Embedding model</label>
        <input
          id="new-model"
          value={model}
          placeholder="server default"
          onInput={(e) => setModel(e.currentTarget.value)}
        />
        <label for="new-dimensions">Dimensions</label>
        <input
          id="new-dimensions"
          type="number"
          min={1}
          max={2000}
          value={dimensions}
          placeholder="server default"
          onInput={(e) => setDimensions(e.currentTarget.value)}
        />
        <label for="new-text-search">Full-text configuration</label>
        <input
          id="new-text-search"
          value={textSearch}
          placeholder="english"
          onInput={(e) => setTextSearch(e.currentTarget.value)}
        />
        <p class="hint">The model and dimensions are fixed for the life of the collection.</p>
      </details>
      <button type="submit" disabled={busy}>
        {busy ? 'Creating…' : 'Create collection'}
      </button>
      <ErrorMessage error={error} />
    </form>
  )
}
