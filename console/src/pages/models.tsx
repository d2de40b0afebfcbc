import { useEffect, useState } from 'preact/hooks'
import { call } from '../api.js'
import { count, dateTime } from '../format.js'
import { PostButton } from '../post-button.js'
import { href } from '../router.js'
import type { FineTune, RegisteredModel } from '../types.js'
import { ErrorMessage, Loading, PageTitle, StatusBadge } from '../ui.js'
import { useAction, useCall } from '../use-call.js'

const POLL_MS = 3000
const FINISHED = new Set(['succeeded', 'failed', 'cancelled'])
const DAY_MS = 24 * 60 * 60 * 1000

const price = (value: number | null) => (value === null ? 'unpriced' : `$${value}`)

/** Days from today to a YYYY-MM-DD date (negative once past). */
function daysUntil(date: string, now = Date.now()): number {
  return Math.ceil((Date.parse(`${date}T00:00:00Z`) - now) / DAY_MS)
}

/** The model registry and the fine-tune jobs, with a fine-tune's events and checkpoints. */
export function ModelsPage() {
  const models = useCall((signal) => call<{ data: RegisteredModel[] }>('/v1/model-registry', { signal }), [])
  const fineTunes = useCall((signal) => call<{ data: FineTune[] }>('/v1/fine-tunes', { signal }), [])
  const [openId, setOpenId] = useState<string>()
  const list = fineTunes.data?.data ?? []
  const live = list.some((f) => !FINISHED.has(f.status))
  useEffect(() => {
    if (!live) return
    const timer = setTimeout(fineTunes.reload, POLL_MS)
    return () => clearTimeout(timer)
  }, [live, fineTunes.data])
  const open = list.find((f) => f.id === openId)
  return (
    <>
      <PageTitle>Models</PageTitle>
      <section aria-labelledby="fine-tunes-title">
        <h2 id="fine-tunes-title">Fine-tunes</h2>
        <p class="hint">
          Started with <code>POST /v1/fine-tunes</code> from a task's dataset; a finished one registers its
          model and stages a split version of the task (not active) for evaluation and promotion.
        </p>
        <ErrorMessage error={fineTunes.error} />
        {fineTunes.loading && !fineTunes.data && <Loading what="fine-tunes" />}
        {fineTunes.data && list.length === 0 && <p>No fine-tunes yet.</p>}
        {list.length > 0 && (
          <table class="fine-tunes">
            <thead>
              <tr>
                <th scope="col">Started</th>
                <th scope="col">Task</th>
                <th scope="col">Base model</th>
                <th scope="col">Status</th>
                <th scope="col">Estimate</th>
                <th scope="col">Model and staged version</th>
                <th scope="col">
                  <span class="visually-hidden">Open</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((f) => (
                <tr key={f.id} class={f.id === open?.id ? 'active' : undefined}>
                  <td>{dateTime(f.createdAt)}</td>
                  <td>
                    <a href={href('tasks', f.task)}>{f.task}</a>
                  </td>
                  <td>{f.baseModel}</td>
                  <td>
                    <StatusBadge status={f.status} />
                  </td>
                  <td>
                    {f.estimatedCostUsd === null ? 'unpriced' : `$${f.estimatedCostUsd.toFixed(2)}`} of $
                    {f.maxBudgetUsd}
                  </td>
                  <td>
                    {f.fineTunedModel ? <code>{f.fineTunedModel}</code> : '–'}
                    {f.stagedVersion !== null && <> · v{f.stagedVersion} staged</>}
                  </td>
                  <td>
                    <button
                      type="button"
                      class="secondary small"
                      onClick={() => setOpenId(f.id)}
                      aria-label={`Open fine-tune of ${f.task} started ${dateTime(f.createdAt)}`}
                    >
                      Open
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {open && <FineTuneDetail fineTune={open} onChange={fineTunes.reload} />}
      </section>
      <section aria-labelledby="registry-title">
        <h2 id="registry-title">Registered models</h2>
        <p class="hint">
          Prices in USD per 1M tokens. An unpriced model's calls are costed as unknown, never as $0. Change
          them with <code>PATCH /v1/model-registry/&#123;id&#125;</code>.
        </p>
        <ErrorMessage error={models.error} />
        {models.loading && !models.data && <Loading what="models" />}
        {models.data && (
          <table class="models">
            <thead>
              <tr>
                <th scope="col">Model</th>
                <th scope="col">Kind</th>
                <th scope="col">Input / output</th>
                <th scope="col">Training</th>
                <th scope="col">Hosting per hour</th>
                <th scope="col" class="num">
                  Context
                </th>
                <th scope="col">Shutdown</th>
                <th scope="col">Endpoint</th>
              </tr>
            </thead>
            <tbody>
              {models.data.data.map((m) => (
                <tr key={m.id}>
                  <th scope="row">
                    <code>{m.id}</code>
                  </th>
                  <td>{m.kind === 'fine_tuned' ? `fine-tuned from ${m.baseModel ?? '?'}` : 'foundation'}</td>
                  <td>
                    {m.priced ? `${price(m.inputPricePer1M)} / ${price(m.outputPricePer1M)}` : 'unpriced'}
                    {m.pricesAsOf && <span class="muted"> (as of {m.pricesAsOf})</span>}
                  </td>
                  <td>{price(m.trainingPricePer1M)}</td>
                  <td>{m.hostingPerHour === null ? '–' : `$${m.hostingPerHour}`}</td>
                  <td class="num">{count(m.contextWindow)}</td>
                  <td>{m.shutdownDate ? `${m.shutdownDate} (${daysUntil(m.shutdownDate)} days)` : '–'}</td>
                  <td>{m.callable ? (m.baseURL ?? 'default') : 'not configured'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  )
}

/** One fine-tune: what went wrong if it did, its checkpoints' losses and the provider's events. */
function FineTuneDetail({ fineTune: f, onChange }: { fineTune: FineTune; onChange: () => void }) {
  const cancel = useAction()
  return (
    <div class="fine-tune-detail card">
      <h3>
        Fine-tune of {f.task} on {f.baseModel}
      </h3>
      <p>
        <StatusBadge status={f.status} /> provider job <code>{f.providerJobId ?? '–'}</code>
        {f.trainedTokens !== null && <>, {count(f.trainedTokens)} tokens trained</>}, split share{' '}
        {Math.round(f.share * 100)}% when staged.
        {!FINISHED.has(f.status) && (
          <PostButton
            action={cancel}
            path={`/v1/fine-tunes/${encodeURIComponent(f.id)}/cancel`}
            onDone={onChange}
            class="secondary small"
          >
            Cancel fine-tune
          </PostButton>
        )}
      </p>
      <ErrorMessage error={cancel.error} />
      {f.error && (
        <p class="job-failure">
          <strong>{f.status === 'cancelled' ? 'Stopped:' : 'Why it failed:'}</strong> {f.error}
        </p>
      )}
      {f.checkpoints.length > 0 && (
        <table class="checkpoints">
          <caption>Checkpoints</caption>
          <thead>
            <tr>
              <th scope="col" class="num">
                Step
              </th>
              <th scope="col" class="num">
                Training loss
              </th>
              <th scope="col" class="num">
                Validation loss
              </th>
            </tr>
          </thead>
          <tbody>
            {f.checkpoints.map((c) => (
              <tr key={c.step}>
                <td class="num">{c.step}</td>
                <td class="num">{c.trainLoss?.toFixed(3) ?? '–'}</td>
                <td class="num">{c.validLoss?.toFixed(3) ?? '–'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h4>Events</h4>
      {f.events.length === 0 ? (
        <p class="muted">No events from the provider yet.</p>
      ) : (
        <ol class="events">
          {f.events.map((e) => (
            <li key={e.id}>
              <span class="muted">{dateTime(e.at)}</span> {e.level !== 'info' && <strong>{e.level}: </strong>}
              {e.message}
            </li>
          ))}
        </ol>
      )}
    </div>
  )
}
