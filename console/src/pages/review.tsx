import { useCallback, useEffect, useRef, useState } from 'preact/hooks'
import { call } from '../api.js'
import { count, dateTime, plural } from '../format.js'
import { href } from '../router.js'
import type { FeedbackResult, ReviewItem, ReviewQueueOverview } from '../types.js'
import { ErrorMessage, Loading, PageTitle } from '../ui.js'
import { useAction, useCall } from '../use-call.js'

/** How many items one claim asks for; each is leased to this reviewer for 10 minutes. */
const BATCH = 10

type Verdict = 'approved' | 'rejected' | 'corrected'

const VERDICT_LABELS: Record<Verdict, string> = {
  approved: 'Approved',
  rejected: 'Rejected',
  corrected: 'Corrected',
}

/** The review queue: the tasks waiting for this reviewer, or one task's items, one at a time. */
export function ReviewPage({ task }: { task?: string }) {
  return task ? <ReviewSession task={task} /> : <ReviewOverviewPage />
}

function useOverview() {
  return useCall((signal) => call<ReviewQueueOverview>('/v1/review-queue', { signal }), [])
}

function Progress({ overview }: { overview: ReviewQueueOverview | undefined }) {
  if (!overview) return null
  const { you } = overview
  return (
    <p class="review-progress" aria-live="polite">
      You have reviewed <strong>{count(you.reviewed)}</strong> ({count(you.today)} today):{' '}
      {count(you.approved)} approved, {count(you.rejected)} rejected, {count(you.corrected)} corrected.
    </p>
  )
}

function ReviewOverviewPage() {
  const overview = useOverview()
  const tasks = overview.data?.tasks ?? []
  return (
    <>
      <PageTitle>Review</PageTitle>
      <p class="hint">
        Generations are shown blind: you see the request, the passages and the output, never the model or
        route that wrote it. Claimed items are yours for 10 minutes.
      </p>
      <ErrorMessage error={overview.error} />
      {overview.loading && !overview.data && <Loading what="the review queue" />}
      <Progress overview={overview.data} />
      {overview.data && tasks.length === 0 && <p>Nothing is waiting for your review.</p>}
      {tasks.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Task</th>
              <th scope="col" class="num">
                Waiting
              </th>
              <th scope="col" class="num">
                Held by you
              </th>
            </tr>
          </thead>
          <tbody>
            {tasks.map((t) => (
              <tr key={t.name}>
                <td>
                  <a href={href('review', t.name)}>{t.name}</a>
                </td>
                <td class="num">{count(t.waiting)}</td>
                <td class="num">{count(t.heldByYou)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  )
}

function isTyping(target: EventTarget | null): boolean {
  return (
    target instanceof HTMLInputElement ||
    target instanceof HTMLTextAreaElement ||
    target instanceof HTMLSelectElement
  )
}

function ReviewSession({ task }: { task: string }) {
  const overview = useOverview()
  const [items, setItems] = useState<ReviewItem[]>()
  const [index, setIndex] = useState(0)
  const [verdicts, setVerdicts] = useState<Record<string, Verdict>>({})
  const [corrections, setCorrections] = useState<Record<string, string>>({})
  const [editing, setEditing] = useState(false)
  const [draft, setDraft] = useState('')
  const [comment, setComment] = useState('')
  const [said, setSaid] = useState('')
  const claiming = useAction()
  const sending = useAction()
  const editor = useRef<HTMLTextAreaElement>(null)
  const itemRegion = useRef<HTMLElement>(null)

  const claim = useCallback(
    () =>
      claiming.run(async () => {
        const answer = await call<{ items: ReviewItem[] }>('/v1/review-queue/claim', {
          json: { task, count: BATCH },
        })
        setItems(answer.items)
        setVerdicts({})
        setCorrections({})
        setIndex(0)
        setEditing(false)
        setSaid(
          answer.items.length > 0
            ? `Claimed ${plural(answer.items.length, 'item')} until ${dateTime(answer.items[0]?.leasedUntil)}.`
            : 'Nothing left to claim for this task.',
        )
        overview.reload()
      }),
    [task],
  )
  useEffect(() => {
    void claim()
  }, [claim])

  const item = items?.[index]
  const decided = items ? items.filter((i) => verdicts[i.generationId]).length : 0

  const go = (to: number) => {
    if (!items || items.length === 0) return
    setIndex(Math.max(0, Math.min(items.length - 1, to)))
    setEditing(false)
    setComment('')
  }

  const submit = (verdict: Verdict, body: Record<string, unknown>) =>
    sending.run(async () => {
      if (!item || !items) return
      const withComment = comment.trim() ? { ...body, comment: comment.trim() } : body
      await call<FeedbackResult>(`/v1/generations/${encodeURIComponent(item.generationId)}/feedback`, {
        method: 'PUT',
        json: withComment,
      })
      const next = { ...verdicts, [item.generationId]: verdict }
      setVerdicts(next)
      const correction = body.correctedOutput
      setCorrections(({ [item.generationId]: _, ...rest }) =>
        typeof correction === 'string' ? { ...rest, [item.generationId]: correction } : rest,
      )
      setEditing(false)
      setComment('')
      overview.reload()
      // On to the next item without a verdict, after this one (then from the start).
      const order = [...items.slice(index + 1), ...items.slice(0, index)]
      const open = order.find((i) => !next[i.generationId])
      const remaining = items.filter((i) => !next[i.generationId]).length
      setSaid(
        `${VERDICT_LABELS[verdict]} item ${index + 1}. ${remaining === 0 ? 'Batch done.' : `${remaining} left in this batch.`}`,
      )
      if (open) setIndex(items.indexOf(open))
      itemRegion.current?.focus()
    })

  const approve = () => submit('approved', { approved: true })
  const reject = () => submit('rejected', { approved: false })
  const startEditing = () => {
    if (!item) return
    setDraft(corrections[item.generationId] ?? item.output ?? '')
    setEditing(true)
  }
  const saveCorrection = () => {
    if (draft.trim() === '') return
    void submit('corrected', { correctedOutput: draft })
  }
  const cancelEditing = () => {
    setEditing(false)
    itemRegion.current?.focus()
  }

  /** What can be done to the current item: a button each, and its key (none fires while typing in a field). */
  const commands: { key: string; label: string; run: () => void; disabled: boolean; primary?: boolean }[] = [
    { key: 'a', label: 'Approve', run: () => void approve(), disabled: sending.busy, primary: true },
    { key: 'r', label: 'Reject', run: () => void reject(), disabled: sending.busy },
    { key: 'e', label: 'Edit', run: startEditing, disabled: sending.busy },
    { key: 'p', label: 'Previous', run: () => go(index - 1), disabled: index === 0 },
    { key: 'n', label: 'Next', run: () => go(index + 1), disabled: !items || index >= items.length - 1 },
  ]

  useEffect(() => {
    if (editing) editor.current?.focus()
  }, [editing])

  // The key listener reads what was rendered last. Effects run after paint, so a listener re-added in an effect
  // would, between a render and the next frame, still act on the state before it (a key pressed as soon as
  // "Item 2" shows was dropped as if the verdict on item 1 were still being sent).
  const shortcuts = useRef({ commands, blocked: true })
  shortcuts.current = { commands, blocked: !item || sending.busy || editing }
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return
      const { commands, blocked } = shortcuts.current
      if (blocked) return
      const key = { arrowright: 'n', arrowleft: 'p' }[event.key.toLowerCase()] ?? event.key.toLowerCase()
      const action = commands.find((command) => command.key === key && !command.disabled)?.run
      if (!action) return
      event.preventDefault()
      action()
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [])

  const verdict = item ? verdicts[item.generationId] : undefined
  const waiting = overview.data?.tasks.find((t) => t.name === task)?.waiting ?? 0

  return (
    <>
      <p class="crumbs">
        <a href={href('review')}>Review</a> /
      </p>
      <PageTitle>Review {task}</PageTitle>
      <Progress overview={overview.data} />
      <p class="visually-hidden" role="status">
        {said}
      </p>
      <ErrorMessage error={claiming.error ?? sending.error} />
      {claiming.busy && !items && <Loading what="items to review" />}
      {items && (
        <p class="muted">
          This batch: {count(decided)} of {plural(items.length, 'item')} done; {plural(waiting, 'more item')}{' '}
          waiting for a reviewer.{' '}
          <button type="button" class="secondary small" disabled={claiming.busy} onClick={() => void claim()}>
            Claim {decided === items.length ? 'more' : 'again'}
          </button>
        </p>
      )}
      {items && items.length === 0 && <p>Nothing is waiting for your review in this task.</p>}
      {item && (
        <section class="review-item card" aria-labelledby="item-title" ref={itemRegion} tabIndex={-1}>
          <div class="section-head">
            <h2 id="item-title">
              Item {index + 1} of {items?.length}
            </h2>
            {verdict && <span class={`badge badge-${verdict}`}>{VERDICT_LABELS[verdict]}</span>}
          </div>
          <RequestView item={item} />
          <h3 id="output-title">Output</h3>
          {editing ? (
            <div class="review-editor">
              <label for="corrected-output">Corrected output</label>
              <textarea
                id="corrected-output"
                ref={editor}
                rows={10}
                value={draft}
                onInput={(e) => setDraft(e.currentTarget.value)}
                onKeyDown={(e) => {
                  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
                    e.preventDefault()
                    saveCorrection()
                  } else if (e.key === 'Escape') {
                    e.preventDefault()
                    cancelEditing()
                  }
                }}
              />
              <p class="hint">Ctrl+Enter saves the correction, Escape leaves it unsaved.</p>
              <div class="actions">
                <button
                  type="button"
                  disabled={sending.busy || draft.trim() === ''}
                  onClick={saveCorrection}
                  aria-keyshortcuts="Control+Enter"
                >
                  Save correction
                </button>
                <button type="button" class="secondary" onClick={cancelEditing} aria-keyshortcuts="Escape">
                  Cancel
                </button>
              </div>
            </div>
          ) : (
            <pre class="review-output">{item.output ?? '(no output)'}</pre>
          )}
          {!editing && corrections[item.generationId] !== undefined && (
            <>
              <h3>Your correction</h3>
              <pre class="review-output review-correction">{corrections[item.generationId]}</pre>
            </>
          )}
          <label class="review-comment">
            Comment (optional, sent with your verdict)
            <input value={comment} maxLength={4000} onInput={(e) => setComment(e.currentTarget.value)} />
          </label>
          {!editing && (
            <div class="actions">
              {commands.map((command) => (
                <button
                  key={command.key}
                  type="button"
                  class={command.primary ? undefined : 'secondary'}
                  disabled={command.disabled}
                  onClick={command.run}
                  aria-keyshortcuts={command.key}
                >
                  {command.label} <kbd>{command.key.toUpperCase()}</kbd>
                </button>
              ))}
            </div>
          )}
          <p class="hint">
            Keys (outside a text field):{' '}
            {commands.map((c) => `${c.key.toUpperCase()} ${c.label.toLowerCase()}`).join(', ')}.
          </p>
          {item.passages.length > 0 && (
            <details class="review-passages">
              <summary>The {plural(item.passages.length, 'passage')} the model was given</summary>
              <ol>
                {item.passages.map((p) => (
                  <li key={`${p.documentId}:${p.headingPath}`}>
                    <strong>{p.title}</strong>
                    {p.headingPath && <span class="muted"> — {p.headingPath}</span>}
                    <div class="chunk-text">{p.text}</div>
                  </li>
                ))}
              </ol>
            </details>
          )}
        </section>
      )}
    </>
  )
}

/** What was asked: the input and variables, or the conversation when the caller sent one. */
function RequestView({ item }: { item: ReviewItem }) {
  const variables = Object.entries(item.variables ?? {})
  const conversation =
    item.input !== null && item.conversation.length === 1 && item.conversation[0]?.content === item.input
      ? []
      : item.conversation
  return (
    <>
      {item.input !== null && (
        <>
          <h3>Input</h3>
          <p class="review-input">{item.input}</p>
        </>
      )}
      {variables.length > 0 && (
        <dl class="stats">
          {variables.map(([name, value]) => (
            <div key={name}>
              <dt>{name}</dt>
              <dd>{value}</dd>
            </div>
          ))}
        </dl>
      )}
      {conversation.length > 0 && (
        <>
          <h3>Conversation</h3>
          {conversation.map((message, n) => (
            <div class="message" key={`${n}:${message.role}`}>
              <h4>{message.role}</h4>
              <div class="chunk-text">{message.content}</div>
            </div>
          ))}
        </>
      )}
    </>
  )
}
