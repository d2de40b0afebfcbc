import { useState } from 'preact/hooks'
import type { Abilities } from '../abilities.js'
import { call } from '../api.js'
import { count, score } from '../format.js'
import { href } from '../router.js'
import type { Collection, Passage, RetrieveResult } from '../types.js'
import { ErrorMessage, KindSelect, PageTitle } from '../ui.js'
import { useAction, useCall } from '../use-call.js'

/** The rank a passage had in one arm, when the server reports ranks (`ranks` or `<arm>Rank` in scores). */
function rankIn(passage: Passage, arm: 'vector' | 'lexical'): number | null {
  const fromRanks = passage.ranks?.[arm]
  if (typeof fromRanks === 'number') return fromRanks
  const fromScores = passage.scores[`${arm}Rank`]
  return typeof fromScores === 'number' ? fromScores : null
}

function parseMetadata(text: string): Record<string, unknown> | undefined {
  if (!text.trim()) return undefined
  const parsed: unknown = JSON.parse(text)
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error('The metadata filter must be a JSON object, such as {"locale": "en-AU"}.')
  }
  return parsed as Record<string, unknown>
}

/** A query against one collection, with filters, and the ranked passages with each arm's score and rank. */
export function RetrievalPage({ can, initial }: { can: Abilities; initial?: string }) {
  const collections = useCall(
    (signal) =>
      can.admin
        ? call<{ data: Collection[] }>('/v1/collections', { signal }).then((r) => r.data.map((c) => c.name))
        : Promise.resolve(can.collections ?? []),
    [],
  )
  const [collection, setCollection] = useState(initial ?? '')
  const [query, setQuery] = useState('')
  const [k, setK] = useState('8')
  const [budget, setBudget] = useState('4000')
  const [kind, setKind] = useState('')
  const [prefix, setPrefix] = useState('')
  const [metadata, setMetadata] = useState('')
  const [result, setResult] = useState<RetrieveResult>()
  const { busy, error, run } = useAction()

  const names = collections.data ?? []
  const chosen = collection || names[0] || ''

  const submit = (event: Event) => {
    event.preventDefault()
    setResult(undefined)
    void run(async () => {
      const meta = parseMetadata(metadata)
      const filters = {
        ...(kind ? { kind } : {}),
        ...(prefix.trim() ? { sourcePrefix: prefix.trim() } : {}),
        ...(meta ? { metadata: meta } : {}),
      }
      setResult(
        await call<RetrieveResult>('/v1/retrieve', {
          json: {
            collection: chosen,
            query,
            k: Number(k),
            budgetTokens: Number(budget),
            ...(Object.keys(filters).length > 0 ? { filters } : {}),
          },
        }),
      )
    })
  }

  return (
    <>
      <PageTitle>Retrieval playground</PageTitle>
      <form class="card retrieval-form" onSubmit={submit}>
        <div class="row">
          <label for="retrieval-collection">
            Collection
            {names.length > 0 ? (
              <select
                id="retrieval-collection"
                value={chosen}
                onChange={(e) => setCollection(e.currentTarget.value)}
              >
                {names.map((name) => (
                  <option key={name} value={name}>
                    {name}
                  </option>
                ))}
              </select>
            ) : (
              <input
                id="retrieval-collection"
                value={collection}
                required
                onInput={(e) => setCollection(e.currentTarget.value)}
              />
            )}
          </label>
          <label class="grow">
            Query
            <input
              type="search"
              value={query}
              required
              maxLength={2000}
              placeholder="How do we write numbers in headings?"
              onInput={(e) => setQuery(e.currentTarget.value)}
            />
          </label>
          <button type="submit" disabled={busy || !chosen}>
            {busy ? 'Searching…' : 'Search'}
          </button>
        </div>
        <div class="row">
          <label>
            Chunks (k)
            <input type="number" min={1} max={50} value={k} onInput={(e) => setK(e.currentTarget.value)} />
          </label>
          <label>
            Token budget
            <input
              type="number"
              min={1}
              max={32000}
              value={budget}
              onInput={(e) => setBudget(e.currentTarget.value)}
            />
          </label>
          <KindSelect value={kind} onChange={setKind} />
          <label>
            Source id starts with
            <input value={prefix} maxLength={1024} onInput={(e) => setPrefix(e.currentTarget.value)} />
          </label>
          <label class="grow">
            Metadata (JSON)
            <input
              value={metadata}
              placeholder='{"locale": "en-AU"}'
              onInput={(e) => setMetadata(e.currentTarget.value)}
            />
          </label>
        </div>
      </form>
      <ErrorMessage error={error ?? collections.error} />
      {result && <Results result={result} linkDocuments={can.admin} />}
    </>
  )
}

function Results({ result, linkDocuments }: { result: RetrieveResult; linkDocuments: boolean }) {
  // Per-arm ranks are shown once the server reports them; the fused rank is the passage's position.
  const hasRanks = result.passages.some((p) => rankIn(p, 'vector') !== null || rankIn(p, 'lexical') !== null)
  return (
    <section aria-labelledby="results-title" class="results">
      <h2 id="results-title">
        {result.passages.length === 0 ? 'No passages' : `${result.passages.length} passages`}{' '}
        <span class="muted small">
          {result.mode} search · {count(result.usedTokens)} tokens
        </span>
      </h2>
      {result.mode === 'lexical' && (
        <p class="notice">
          Full-text search only: no model provider is configured, or this collection has no embeddings yet.
        </p>
      )}
      <ol class="passages">
        {result.passages.map((p, i) => {
          const vectorRank = rankIn(p, 'vector')
          const lexicalRank = rankIn(p, 'lexical')
          return (
            <li key={`${p.documentId}:${p.chunkIds.join(',')}`} class="passage card">
              <div class="passage-head">
                <span class="rank" title="Fused rank">
                  {i + 1}
                </span>
                <div class="grow">
                  <strong>
                    {linkDocuments ? (
                      <a href={href('collections', result.collection, 'documents', p.documentId)}>
                        {p.title}
                      </a>
                    ) : (
                      p.title
                    )}
                  </strong>
                  <div class="muted small">
                    <code>{p.sourceId}</code>
                    {p.headingPath && <> · {p.headingPath}</>} · {p.kind} · {count(p.tokens)} tokens
                  </div>
                </div>
                <table class="scores">
                  <caption class="visually-hidden">Scores and ranks of passage {i + 1}</caption>
                  <thead>
                    <tr>
                      <th scope="col">Arm</th>
                      {hasRanks && <th scope="col">Rank</th>}
                      <th scope="col">Score</th>
                    </tr>
                  </thead>
                  <tbody>
                    <tr>
                      <th scope="row">Lexical</th>
                      {hasRanks && <td>{lexicalRank ?? '–'}</td>}
                      <td>{score(p.scores.lexical)}</td>
                    </tr>
                    <tr>
                      <th scope="row">Vector</th>
                      {hasRanks && <td>{vectorRank ?? '–'}</td>}
                      <td>{score(p.scores.vector)}</td>
                    </tr>
                    <tr>
                      <th scope="row">Fused</th>
                      {hasRanks && <td>{i + 1}</td>}
                      <td>{score(p.scores.fused, 4)}</td>
                    </tr>
                  </tbody>
                </table>
              </div>
              <pre class="chunk-text">{p.text}</pre>
            </li>
          )
        })}
      </ol>
    </section>
  )
}
