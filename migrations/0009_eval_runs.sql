-- Learn, part 2: evaluation runs (a job of kind 'eval' on the one job queue) and their results.

CREATE TABLE eval_runs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  eval_set_id uuid NOT NULL REFERENCES eval_sets (id) ON DELETE CASCADE,
  -- The job that runs it; its status, progress and errors are the run's.
  job_id uuid REFERENCES ingest_jobs (id) ON DELETE SET NULL,
  -- The request as given: arms, judge, repetitions, budgetUsd, concurrency.
  params jsonb NOT NULL,
  baseline_run_id uuid REFERENCES eval_runs (id) ON DELETE SET NULL,
  -- Why the run stopped before every result was in (the budget), if it did.
  stopped_reason text,
  created_by text REFERENCES api_keys (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX eval_runs_set_idx ON eval_runs (eval_set_id, created_at DESC);

-- One output of one arm for one case and repetition. The key makes a resumed run skip what is done.
CREATE TABLE eval_results (
  run_id uuid NOT NULL REFERENCES eval_runs (id) ON DELETE CASCADE,
  case_ordinal integer NOT NULL,
  arm integer NOT NULL CHECK (arm >= 0),
  repetition integer NOT NULL CHECK (repetition >= 0),
  status text NOT NULL CHECK (status IN ('succeeded', 'failed')),
  output text,
  error text,
  model text,
  prompt_tokens integer,
  completion_tokens integer,
  -- NULL when the model has no price: never counted as free.
  cost_usd numeric(14, 8),
  latency_ms real,
  invalid_citations integer[] NOT NULL DEFAULT '{}',
  cited_passages integer NOT NULL DEFAULT 0,
  -- [{name, type, pass, score?, detail?}]
  checks jsonb NOT NULL DEFAULT '[]'::jsonb,
  -- The judge's verdicts: {rubric name: {score, reasons}}, with their own cost.
  judge jsonb,
  judge_cost_usd numeric(14, 8),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, case_ordinal, arm, repetition)
);
