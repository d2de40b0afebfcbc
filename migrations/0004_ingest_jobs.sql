-- ingest_jobs becomes the one job queue of every kind of background work (ingest, and later
-- evaluations, fine-tune follow-ups). The table keeps its name: every branch in flight and every
-- deployed metric already reads `ingest_jobs`, and a renamed table behind a view would freeze the
-- view's column list at this migration (columns added later would not show through it).

-- Honest outcomes: a job that finished but rejected some rows or files, and a job stopped on request.
ALTER TABLE ingest_jobs DROP CONSTRAINT ingest_jobs_status_check;
ALTER TABLE ingest_jobs ADD CONSTRAINT ingest_jobs_status_check
  CHECK (status IN ('queued', 'running', 'succeeded', 'succeeded_with_errors', 'failed', 'cancelled'));

-- What a worker runs the job with; one handler module per kind.
ALTER TABLE ingest_jobs ADD COLUMN kind text NOT NULL DEFAULT 'ingest'
  CHECK (kind ~ '^[a-z][a-z0-9_-]{0,62}$');
-- Other kinds may belong to no collection (the per-collection exclusivity skips them) and have no mode.
ALTER TABLE ingest_jobs ALTER COLUMN collection_id DROP NOT NULL;
ALTER TABLE ingest_jobs ALTER COLUMN mode DROP NOT NULL;
ALTER TABLE ingest_jobs ADD CONSTRAINT ingest_jobs_ingest_inputs
  CHECK (kind <> 'ingest' OR (collection_id IS NOT NULL AND mode IS NOT NULL));

-- A job is not claimed before this time: a handler polling a provider reschedules itself with backoff.
ALTER TABLE ingest_jobs ADD COLUMN run_after timestamptz;
-- Set by a cancel of a running job; its worker stops at the next group boundary.
ALTER TABLE ingest_jobs ADD COLUMN cancel_requested_at timestamptz;
-- An admin has read the errors of this finished job; lists hide them unless asked.
ALTER TABLE ingest_jobs ADD COLUMN errors_dismissed_at timestamptz;
-- The stored input files were removed (retention over); such a job can no longer be retried.
ALTER TABLE ingest_jobs ADD COLUMN files_purged_at timestamptz;

CREATE INDEX ingest_jobs_collection_idx ON ingest_jobs (collection_id, created_at DESC);
-- Finished jobs whose files are still stored: what the retention sweep reads.
CREATE INDEX ingest_jobs_retained_files_idx ON ingest_jobs (finished_at)
  WHERE finished_at IS NOT NULL AND files_purged_at IS NULL;
