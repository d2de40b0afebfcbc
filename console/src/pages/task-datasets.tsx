import { useState } from 'preact/hooks'
import { call, download as downloadFile } from '../api.js'
import { count, dateTime } from '../format.js'
import type { Dataset, DatasetFinding } from '../types.js'
import { ErrorMessage, Loading } from '../ui.js'
import { useAction, useCall } from '../use-call.js'

const STATUS: Record<Dataset['status'], { label: string; tone: string }> = {
  ready: { label: 'Ready', tone: 'succeeded' },
  not_ready: { label: 'Too few examples', tone: 'succeeded_with_errors' },
  invalid: { label: 'Invalid', tone: 'failed' },
}

const COUNT_LABELS: [string, string][] = [
  ['candidates', 'Reviewed generations found'],
  ['duplicatesDropped', 'Duplicates dropped'],
  ['heldForEvaluation', 'Held out for evaluation'],
  ['train', 'Training examples'],
  ['validation', 'Validation examples'],
  ['corrected', 'From corrections'],
  ['preferencePairs', 'Preference pairs'],
]

/** A task's fine-tuning datasets: build one, read its validation report, download its files. */
export function TaskDatasets({ task }: { task: string }) {
  const base = `/v1/tasks/${encodeURIComponent(task)}/datasets`
  const list = useCall((signal) => call<{ data: Dataset[] }>(base, { signal }), [base])
  const [openId, setOpenId] = useState<string>()
  const datasets = list.data?.data ?? []
  const open = datasets.find((d) => d.id === openId) ?? datasets[0]
  return (
    <section aria-labelledby="datasets-title">
      <h2 id="datasets-title">Fine-tuning datasets</h2>
      <p class="hint">
        Immutable snapshots of this task's reviewed generations, split into training and validation, in
        OpenAI's chat fine-tuning format. 500 clean training examples is the mark for trying a fine-tune.
      </p>
      <BuildForm
        base={base}
        onBuilt={(dataset) => {
          setOpenId(dataset.id)
          list.reload()
        }}
      />
      <ErrorMessage error={list.error} />
      {list.loading && !list.data && <Loading what="datasets" />}
      {list.data && datasets.length === 0 && <p>No datasets yet for this task.</p>}
      {datasets.length > 0 && (
        <table class="datasets">
          <thead>
            <tr>
              <th scope="col">Built</th>
              <th scope="col">Status</th>
              <th scope="col" class="num">
                Train
              </th>
              <th scope="col" class="num">
                Validation
              </th>
              <th scope="col">Review</th>
              <th scope="col">Estimated training cost</th>
              <th scope="col">
                <span class="visually-hidden">Open</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {datasets.map((d) => (
              <tr key={d.id} class={d.id === open?.id ? 'active' : undefined}>
                <td>{dateTime(d.createdAt)}</td>
                <td>
                  <span class={`badge badge-${STATUS[d.status].tone}`}>{STATUS[d.status].label}</span>
                </td>
                <td class="num">{count(d.counts.train ?? 0)}</td>
                <td class="num">{count(d.counts.validation ?? 0)}</td>
                <td>{String(d.params.review ?? '')}</td>
                <td>{costText(d)}</td>
                <td>
                  <button
                    type="button"
                    class="secondary small"
                    aria-pressed={d.id === open?.id}
                    onClick={() => setOpenId(d.id)}
                  >
                    Show report
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {open && <DatasetReport key={open.id} dataset={open} />}
    </section>
  )
}

function costText(d: Dataset): string {
  const estimate = d.report.estimate
  if (!estimate) return '–'
  if (estimate.costUsd === null) return `unpriced (${count(estimate.billedTokens)} tokens billed)`
  return `$${estimate.costUsd.toFixed(2)} (${count(estimate.billedTokens)} tokens)`
}

function BuildForm({ base, onBuilt }: { base: string; onBuilt: (dataset: Dataset) => void }) {
  const [review, setReview] = useState('approved_or_corrected')
  const [promptVariant, setPromptVariant] = useState('as_served')
  const [validationShare, setValidationShare] = useState('0.1')
  const [seed, setSeed] = useState('0')
  const [baseModel, setBaseModel] = useState('')
  const { busy, error, run } = useAction()
  const submit = (event: Event) => {
    event.preventDefault()
    void run(async () => {
      const dataset = await call<Dataset>(base, {
        json: {
          review,
          promptVariant,
          validationShare: Number(validationShare),
          seed,
          ...(baseModel.trim() ? { baseModel: baseModel.trim() } : {}),
        },
      })
      onBuilt(dataset)
    })
  }
  return (
    <form class="card build-dataset" onSubmit={submit}>
      <h3>Build a dataset</h3>
      <div class="row">
        <label>
          Examples from
          <select value={review} onChange={(e) => setReview(e.currentTarget.value)}>
            <option value="approved_or_corrected">Approved and corrected generations</option>
            <option value="approved">Approved generations only</option>
          </select>
        </label>
        <label>
          System prompt
          <select value={promptVariant} onChange={(e) => setPromptVariant(e.currentTarget.value)}>
            <option value="as_served">As served</option>
            <option value="fine_tuned">The fine-tuned template</option>
          </select>
        </label>
        <label>
          Validation share
          <input
            type="number"
            min="0"
            max="0.5"
            step="0.05"
            value={validationShare}
            onInput={(e) => setValidationShare(e.currentTarget.value)}
          />
        </label>
        <label>
          Seed
          <input value={seed} maxLength={100} onInput={(e) => setSeed(e.currentTarget.value)} />
        </label>
        <label>
          Base model (optional)
          <input
            value={baseModel}
            maxLength={200}
            placeholder="the task's foundation model"
            onInput={(e) => setBaseModel(e.currentTarget.value)}
          />
        </label>
      </div>
      <button type="submit" disabled={busy}>
        {busy ? 'Building…' : 'Build dataset'}
      </button>
      <ErrorMessage error={error} />
    </form>
  )
}

function DatasetReport({ dataset }: { dataset: Dataset }) {
  const errors = dataset.report.errors ?? []
  const warnings = dataset.report.warnings ?? []
  return (
    <section class="card dataset-report" aria-labelledby="dataset-report-title">
      <h3 id="dataset-report-title">
        Dataset of {dateTime(dataset.createdAt)}{' '}
        <span class={`badge badge-${STATUS[dataset.status].tone}`}>{STATUS[dataset.status].label}</span>
      </h3>
      <p class="muted small">
        <code>{dataset.id}</code> · base model {dataset.baseModel}
      </p>
      <dl class="stats">
        {COUNT_LABELS.filter(([key]) => dataset.counts[key] !== undefined).map(([key, label]) => (
          <div key={key}>
            <dt>{label}</dt>
            <dd>{count(dataset.counts[key]!)}</dd>
          </div>
        ))}
        <div>
          <dt>Estimated training cost</dt>
          <dd>{costText(dataset)}</dd>
        </div>
      </dl>
      <Findings title="Errors" findings={errors} />
      <Findings title="Warnings" findings={warnings} />
      {errors.length === 0 && warnings.length === 0 && <p>No errors and no warnings.</p>}
      <Downloads dataset={dataset} />
    </section>
  )
}

const SHOWN_FINDINGS = 50

function Findings({ title, findings }: { title: string; findings: DatasetFinding[] }) {
  if (findings.length === 0) return null
  return (
    <>
      <h4>
        {title} ({count(findings.length)})
      </h4>
      <ul class={`findings findings-${title.toLowerCase()}`}>
        {findings.slice(0, SHOWN_FINDINGS).map((f, n) => (
          <li key={`${f.line ?? ''}:${n}`}>
            {f.line && <code>{f.line}</code>} {f.message}
          </li>
        ))}
      </ul>
      {findings.length > SHOWN_FINDINGS && (
        <p class="muted">and {count(findings.length - SHOWN_FINDINGS)} more (see the API's report).</p>
      )}
    </>
  )
}

const FILES: { file: keyof Dataset['files']; label: string }[] = [
  { file: 'train', label: 'train.jsonl' },
  { file: 'validation', label: 'validation.jsonl' },
  { file: 'preference', label: 'preference.jsonl' },
  { file: 'manifest', label: 'manifest.jsonl' },
]

/**
 * The files need the key in a header, so a plain link cannot fetch them: each is fetched, then handed
 * to the browser as a download.
 */
function Downloads({ dataset }: { dataset: Dataset }) {
  const { busy, error, run } = useAction()
  const download = (file: keyof Dataset['files']) =>
    run(async () => {
      const url = URL.createObjectURL(await downloadFile(dataset.files[file]))
      const link = document.createElement('a')
      link.href = url
      link.download = `${dataset.id}-${file}.jsonl`
      document.body.append(link)
      link.click()
      link.remove()
      setTimeout(() => URL.revokeObjectURL(url), 10_000)
    })
  const blocked = dataset.status === 'invalid'
  return (
    <div class="downloads">
      <h4>Download</h4>
      {blocked && (
        <p class="muted">An invalid dataset exports only its manifest: fix the errors above first.</p>
      )}
      <div class="actions">
        {FILES.map(({ file, label }) => (
          <button
            key={file}
            type="button"
            class="secondary"
            disabled={busy || (blocked && file !== 'manifest')}
            onClick={() => void download(file)}
          >
            {label}
          </button>
        ))}
      </div>
      <ErrorMessage error={error} />
    </div>
  )
}
