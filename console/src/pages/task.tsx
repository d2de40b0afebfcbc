import { diffLines } from 'diff'
import { useEffect, useState } from 'preact/hooks'
import type { Abilities } from '../abilities.js'
import { call } from '../api.js'
import { dateTime } from '../format.js'
import { href } from '../router.js'
import type { DryRun, TaskDefinition, TaskVersion } from '../types.js'
import { ErrorMessage, Loading, PageTitle } from '../ui.js'
import { useAction, useCall } from '../use-call.js'
import { TaskDatasets } from './task-datasets.js'
import { TaskEvalRuns } from './task-eval-runs.js'

/** A task: its versions, a diff between two, activation and rollback, and a dry run of the active one. */
export function TaskPage({ name, can }: { name: string; can: Abilities }) {
  const base = `/v1/tasks/${encodeURIComponent(name)}`
  const versions = useCall((signal) => call<{ data: TaskVersion[] }>(`${base}/versions`, { signal }), [base])
  const [error, setError] = useState<unknown>()
  const [busy, setBusy] = useState(false)
  const [done, setDone] = useState('')
  const list = versions.data?.data ?? []
  const active = list.find((v) => v.active)

  const change = async (path: string, question: string) => {
    if (!window.confirm(question)) return
    setBusy(true)
    setError(undefined)
    try {
      const now = await call<TaskVersion>(`${base}/${path}`, { method: 'POST' })
      setDone(`Version ${now.version} is now active.`)
      versions.reload()
    } catch (caught) {
      setError(caught)
    } finally {
      setBusy(false)
    }
  }
  const older = active ? list.filter((v) => v.version < active.version) : []

  return (
    <>
      <p class="crumbs">
        <a href={href('tasks')}>Tasks</a> /
      </p>
      <PageTitle>{name}</PageTitle>
      <p>
        <a href={href('tasks', name, 'insights')}>Insights and verdict</a>: should this task move to a
        fine-tuned model?
      </p>
      <ErrorMessage error={versions.error ?? error} />
      {done && (
        <p class="notice" role="status">
          {done}
        </p>
      )}
      {versions.loading && !versions.data && <Loading what="versions" />}
      {list.length > 0 && (
        <section aria-labelledby="versions-title">
          <div class="section-head">
            <h2 id="versions-title">Versions</h2>
            <button
              type="button"
              class="secondary"
              disabled={busy || older.length === 0}
              onClick={() =>
                change(
                  'rollback',
                  `Roll ${name} back from version ${active?.version} to version ${older[older.length - 1]?.version}?`,
                )
              }
            >
              Roll back
            </button>
          </div>
          <table class="versions">
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">Created</th>
                <th scope="col">Route</th>
                <th scope="col">Collection</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {[...list].reverse().map((v) => (
                <tr key={v.version} class={v.active ? 'active' : undefined}>
                  <td>
                    v{v.version} {v.active && <span class="badge badge-succeeded">Active</span>}
                  </td>
                  <td>{dateTime(v.createdAt)}</td>
                  <td>
                    {v.definition.route.strategy}: {v.definition.route.foundationModel}
                  </td>
                  <td>{v.definition.retrieval.collection ?? '–'}</td>
                  <td>
                    {!v.active && (
                      <button
                        type="button"
                        class="secondary small"
                        disabled={busy}
                        onClick={() =>
                          change(
                            `versions/${v.version}/activate`,
                            `Make version ${v.version} of ${name} active?`,
                          )
                        }
                      >
                        Activate v{v.version}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
      {list.length > 0 && <Compare versions={list} />}
      {active &&
        (can.generate ? (
          <DryRunForm task={name} version={active} />
        ) : (
          <p class="muted">A dry run needs a key with the generate scope.</p>
        ))}
      {active && <TaskDatasets task={name} />}
      {active && <TaskEvalRuns task={name} />}
    </>
  )
}

/** The text a version is compared by: the prompt as written, then every other setting as JSON. */
function comparable(definition: TaskDefinition): { prompt: string; settings: string } {
  const { systemPrompt, ...rest } = definition
  return { prompt: `${systemPrompt}\n`, settings: `${JSON.stringify(rest, null, 2)}\n` }
}

function Compare({ versions }: { versions: TaskVersion[] }) {
  const newest = versions[versions.length - 1]!
  const [from, setFrom] = useState(
    versions.length > 1 ? versions[versions.length - 2]!.version : newest.version,
  )
  const [to, setTo] = useState(newest.version)
  const a = versions.find((v) => v.version === from)
  const b = versions.find((v) => v.version === to)
  const options = versions.map((v) => (
    <option key={v.version} value={v.version}>
      v{v.version}
      {v.active ? ' (active)' : ''}
    </option>
  ))
  return (
    <section aria-labelledby="compare-title" class="compare">
      <h2 id="compare-title">Compare versions</h2>
      <div class="row">
        <label>
          From
          <select value={from} onChange={(e) => setFrom(Number(e.currentTarget.value))}>
            {options}
          </select>
        </label>
        <label>
          To
          <select value={to} onChange={(e) => setTo(Number(e.currentTarget.value))}>
            {options}
          </select>
        </label>
      </div>
      {a && b && (
        <>
          <h3>System prompt</h3>
          <Diff before={comparable(a.definition).prompt} after={comparable(b.definition).prompt} />
          <h3>Settings</h3>
          <Diff before={comparable(a.definition).settings} after={comparable(b.definition).settings} />
        </>
      )}
    </section>
  )
}

/** A line diff (jsdiff): removed lines in <del>, added ones in <ins>, so the change is not in colour alone. */
function Diff({ before, after }: { before: string; after: string }) {
  const parts = diffLines(before, after)
  if (parts.every((part) => !part.added && !part.removed)) {
    return <p class="muted">No difference.</p>
  }
  return (
    <pre class="diff">
      {parts.map((part, i) =>
        part.added ? (
          <ins key={i}>{prefixLines(part.value, '+ ')}</ins>
        ) : part.removed ? (
          <del key={i}>{prefixLines(part.value, '- ')}</del>
        ) : (
          <span key={i}>{prefixLines(part.value, '  ')}</span>
        ),
      )}
    </pre>
  )
}

function prefixLines(text: string, prefix: string): string {
  return text
    .replace(/\n$/, '')
    .split('\n')
    .map((line) => prefix + line)
    .join('\n')
    .concat('\n')
}

function DryRunForm({ task, version }: { task: string; version: TaskVersion }) {
  const names = version.variables.filter((v) => v !== 'context')
  const [input, setInput] = useState('')
  const [values, setValues] = useState<Record<string, string>>({})
  const [result, setResult] = useState<DryRun>()
  const { busy, error, run } = useAction()
  useEffect(() => setResult(undefined), [version.version])

  const submit = (event: Event) => {
    event.preventDefault()
    setResult(undefined)
    void run(async () => {
      setResult(
        await call<DryRun>('/v1/generate', {
          json: {
            task,
            input,
            variables: Object.fromEntries(names.map((n) => [n, values[n] ?? ''])),
            dryRun: true,
          },
        }),
      )
    })
  }

  return (
    <section aria-labelledby="dry-run-title" class="dry-run">
      <h2 id="dry-run-title">Dry run of v{version.version}</h2>
      <p class="muted">The prompt exactly as the model would get it, with retrieval; no model is called.</p>
      <form class="card" onSubmit={submit}>
        <label for="dry-input">Input</label>
        <textarea
          id="dry-input"
          rows={3}
          required
          value={input}
          onInput={(e) => setInput(e.currentTarget.value)}
        />
        {names.length > 0 && (
          <div class="row">
            {names.map((n) => (
              <label key={n}>
                {n}
                <input
                  value={values[n] ?? ''}
                  required
                  onInput={(e) => {
                    const value = e.currentTarget.value
                    setValues((current) => ({ ...current, [n]: value }))
                  }}
                />
              </label>
            ))}
          </div>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Assembling…' : 'Show the prompt'}
        </button>
        <ErrorMessage error={error} />
      </form>
      {result && (
        <div class="dry-run-result" aria-live="polite">
          <p>
            <strong>Route:</strong> {result.route.model} ({result.route.reason})
            {result.route.fallbackModel && <>; falls back to {result.route.fallbackModel}</>}.{' '}
            {result.citations.length} passages
            {result.droppedPassages > 0 && <>, {result.droppedPassages} dropped to fit the context window</>}.
          </p>
          {result.messages.map((m, i) => (
            <div key={i} class="message">
              <h3>{m.role}</h3>
              <pre class="chunk-text">{m.content}</pre>
            </div>
          ))}
        </div>
      )}
    </section>
  )
}
