-- Learn, part 3: fine-tune jobs on an OpenAI-shaped API (files + fine_tuning/jobs). A job of kind
-- 'fine_tune' on the one job queue uploads the dataset, creates the provider's job and follows it,
-- resting between looks (ingest_jobs.run_after) so a long training holds no worker.

CREATE TABLE fine_tunes (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  job_id uuid REFERENCES ingest_jobs (id) ON DELETE SET NULL,
  dataset_id uuid NOT NULL REFERENCES datasets (id),
  task_id integer NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  base_model text NOT NULL,
  suffix text,
  -- As sent to the provider: n_epochs, batch_size, learning_rate_multiplier ('auto' or a number).
  hyperparameters jsonb NOT NULL DEFAULT '{}'::jsonb,
  max_budget_usd numeric(14, 6) NOT NULL CHECK (max_budget_usd >= 0),
  estimated_cost_usd numeric(14, 6),
  -- The share of traffic the staged split sends to the fine-tuned model.
  share real NOT NULL CHECK (share >= 0 AND share <= 1),
  -- pending (before the upload), uploading, then the provider's statuses.
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'uploading', 'validating_files', 'queued',
    'running', 'succeeded', 'failed', 'cancelled')),
  training_file_id text,
  validation_file_id text,
  provider_job_id text,
  fine_tuned_model text,
  trained_tokens bigint,
  -- The provider's latest events (newest last) and checkpoints' metrics, as followed.
  events jsonb NOT NULL DEFAULT '[]'::jsonb,
  checkpoints jsonb NOT NULL DEFAULT '[]'::jsonb,
  error text,
  -- The task version staged with the fine-tuned model as a split arm (not active).
  staged_version integer,
  polls integer NOT NULL DEFAULT 0,
  consecutive_errors integer NOT NULL DEFAULT 0,
  next_poll_at timestamptz,
  created_by text REFERENCES api_keys (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
CREATE INDEX fine_tunes_task_idx ON fine_tunes (task_id, created_at DESC);

ALTER TABLE models ADD CONSTRAINT models_fine_tune_fk
  FOREIGN KEY (fine_tune_id) REFERENCES fine_tunes (id) ON DELETE SET NULL;
