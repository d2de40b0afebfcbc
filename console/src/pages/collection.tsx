import { useRef, useState } from 'preact/hooks'
import type { Abilities } from '../abilities.js'
import { call } from '../api.js'
import { count, percent } from '../format.js'
import { isFinished, JobCard } from '../ingest/job-card.js'
import { shownJobs } from '../ingest/shown-jobs.js'
import { UploadForm } from '../ingest/upload.js'
import { href } from '../router.js'
import type { Collection, IngestJob } from '../types.js'
import { ErrorMessage, Loading, PageTitle } from '../ui.js'
import { useCall } from '../use-call.js'
import { DocumentList } from './document-list.js'

export function CollectionPage({ name, can }: { name: string; can: Abilities }) {
  const collection = useCall(
    (signal) => call<Collection>(`/v1/collections/${encodeURIComponent(name)}`, { signal }),
    [name],
  )
  // The server keeps which jobs are dismissed: a reload, another tab or a colleague sees the same list.
  const jobList = useCall(
    (signal) =>
      call<{ data: IngestJob[] }>(`/v1/collections/${encodeURIComponent(name)}/ingest-jobs?limit=20`, {
        signal,
      }),
    [name],
  )
  const [documentsVersion, setDocumentsVersion] = useState(0)
  const seen = useRef(new Map<string, string>())
  const jobs = shownJobs(jobList.data?.data ?? [])

  // Documents appear as each group of a job commits: refresh the list and counts when a job moves on.
  const onJobChange = (job: IngestJob) => {
    const mark = `${job.status}:${job.progress?.documents.done ?? 0}`
    if (seen.current.get(job.id) === mark) return
    const first = !seen.current.has(job.id)
    seen.current.set(job.id, mark)
    if (first && isFinished(job)) return
    setDocumentsVersion((v) => v + 1)
    collection.reload()
  }

  if (collection.error) {
    return (
      <>
        <PageTitle>Collection {name}</PageTitle>
        <ErrorMessage error={collection.error} />
        <p>
          <a href={href('collections')}>All collections</a>
        </p>
      </>
    )
  }
  const c = collection.data
  return (
    <>
      <p class="crumbs">
        <a href={href('collections')}>Collections</a> /
      </p>
      <PageTitle>{name}</PageTitle>
      {!c ? (
        <Loading what="the collection" />
      ) : (
        <>
          {c.description && <p>{c.description}</p>}
          <dl class="stats">
            <div>
              <dt>Documents</dt>
              <dd>{count(c.documentCount)}</dd>
            </div>
            <div>
              <dt>Chunks</dt>
              <dd>{count(c.chunkCount)}</dd>
            </div>
            <div>
              <dt>Embedded</dt>
              <dd>
                {count(c.embeddedChunkCount)} ({percent(c.embeddedChunkCount, c.chunkCount)})
              </dd>
            </div>
            <div>
              <dt>Embedding model</dt>
              <dd>
                {c.embeddingModel} ({c.embeddingDimensions} dimensions)
              </dd>
            </div>
            <div>
              <dt>Full text</dt>
              <dd>{c.textSearchConfig}</dd>
            </div>
          </dl>
          {can.generate && (
            <p>
              <a href={href('retrieval', name)}>Try a query on this collection</a>
            </p>
          )}
        </>
      )}
      <div class="split">
        <UploadForm collection={name} onQueued={() => jobList.reload()} />
        <section class="jobs grow" aria-labelledby="jobs-title">
          <h2 id="jobs-title">Ingest jobs</h2>
          {jobList.error !== undefined && <ErrorMessage error={jobList.error} />}
          {jobs.length === 0 ? (
            <p class="muted">
              No jobs to show. Uploads appear here with their progress; jobs with problems stay until
              dismissed.
            </p>
          ) : (
            <ul class="job-list">
              {jobs.map((id) => (
                <JobCard key={id} id={id} onChange={onJobChange} onListChange={() => jobList.reload()} />
              ))}
            </ul>
          )}
        </section>
      </div>
      <DocumentList collection={name} version={documentsVersion} />
    </>
  )
}
