-- Learn, part 1: exact prompts on every generation, reviews with history, a blind review queue, and
-- immutable fine-tuning datasets with the bookkeeping that keeps training and evaluation apart.

-- Content reviewers get a scope of their own.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_scopes_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scopes_check
  CHECK (scopes <@ ARRAY['generate', 'admin', 'review']::text[] AND cardinality(scopes) > 0);

-- The messages exactly as sent to the model and the passages they numbered, so a training example is
-- what the model saw even after the guidelines are re-ingested. Both become NULL (and prompt_dropped_at
-- is set) when the retention sweep drops the prompt of a generation nobody reviewed.
ALTER TABLE generations ADD COLUMN messages jsonb;
ALTER TABLE generations ADD COLUMN passages jsonb;
-- Which template rendered the system message: the task's systemPrompt or route.fineTunedSystemPrompt.
ALTER TABLE generations ADD COLUMN prompt_template text CHECK (prompt_template IN ('foundation', 'fine_tuned'));
ALTER TABLE generations ADD COLUMN prompt_dropped_at timestamptz;
-- The arm the route chose (a fallback keeps its arm: the fine-tuned arm that fell back is still that arm).
ALTER TABLE generations ADD COLUMN route_arm text CHECK (route_arm IN ('foundation', 'fine_tuned'));
-- Derived from the current feedback rows, kept here so lists and the review queue filter on one column.
ALTER TABLE generations ADD COLUMN review_state text NOT NULL DEFAULT 'unreviewed'
  CHECK (review_state IN ('unreviewed', 'approved', 'rejected', 'corrected'));

-- GET /v1/generations reads newest first, by key (a generate key sees its own) or by task version.
CREATE INDEX generations_created_idx ON generations (created_at DESC, id DESC);
CREATE INDEX generations_key_idx ON generations (api_key_id, created_at DESC);
-- The retention sweep reads unreviewed generations whose prompt is still stored, oldest first.
CREATE INDEX generations_prompt_retention_idx ON generations (created_at)
  WHERE messages IS NOT NULL AND review_state = 'unreviewed';

-- One current feedback per (generation, key): retries and flipped votes update it, never duplicate it.
ALTER TABLE feedback ADD COLUMN thumb text CHECK (thumb IN ('up', 'down'));
ALTER TABLE feedback ADD COLUMN labels text[] NOT NULL DEFAULT '{}';
ALTER TABLE feedback ADD COLUMN revision integer NOT NULL DEFAULT 1;
ALTER TABLE feedback ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE feedback ADD CONSTRAINT feedback_generation_key_unique UNIQUE (generation_id, api_key_id);
ALTER TABLE feedback ADD CONSTRAINT feedback_comment_length CHECK (length(comment) <= 4000);

-- Every change to a feedback row, appended in the transaction that made it.
CREATE TABLE feedback_history (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  generation_id uuid NOT NULL REFERENCES generations (id) ON DELETE CASCADE,
  api_key_id text REFERENCES api_keys (id) ON DELETE SET NULL,
  revision integer NOT NULL,
  rating smallint,
  thumb text,
  approved boolean,
  corrected_output text,
  comment text,
  labels text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX feedback_history_generation_idx ON feedback_history (generation_id, id);

-- The review queue: a claimed generation is leased to one reviewer for a while.
CREATE TABLE review_leases (
  generation_id uuid PRIMARY KEY REFERENCES generations (id) ON DELETE CASCADE,
  api_key_id text NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
  leased_until timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX review_leases_key_idx ON review_leases (api_key_id, leased_until);

-- An immutable snapshot of reviewed examples of one task.
CREATE TABLE datasets (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  task_id bigint NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  -- The build request as given (versions, since, review, minRating, promptVariant, validationShare, seed).
  params jsonb NOT NULL,
  base_model text NOT NULL,
  status text NOT NULL CHECK (status IN ('invalid', 'not_ready', 'ready')),
  counts jsonb NOT NULL,
  token_stats jsonb NOT NULL,
  report jsonb NOT NULL,
  created_by text REFERENCES api_keys (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX datasets_task_idx ON datasets (task_id, created_at DESC);

-- One line of a dataset: its split and line number (the manifest), and the JSONL it exports.
CREATE TABLE dataset_examples (
  dataset_id uuid NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
  split text NOT NULL CHECK (split IN ('train', 'validation')),
  line integer NOT NULL CHECK (line >= 1),
  generation_id uuid NOT NULL,
  corrected boolean NOT NULL,
  tokens integer NOT NULL,
  example jsonb NOT NULL,
  -- The preference (DPO) pair, for an example whose output a reviewer corrected.
  preference jsonb,
  PRIMARY KEY (dataset_id, split, line)
);
CREATE INDEX dataset_examples_generation_idx ON dataset_examples (generation_id);

-- What a generation has been used for, once and for good: a generation in a fine-tuning dataset
-- ('training', either split: the job sees both) can never become an evaluation case, and the reverse.
CREATE TABLE generation_purposes (
  generation_id uuid PRIMARY KEY,
  purpose text NOT NULL CHECK (purpose IN ('training', 'evaluation')),
  -- The dataset (or, later, the evaluation set) that first claimed it.
  claimed_by uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
