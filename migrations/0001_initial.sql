-- Initial schema: every table the flows in DESIGN.md need, even where their code lands later,
-- so later migrations only add, never reshape.

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE collections (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  description text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
  embedding_model text NOT NULL CHECK (length(embedding_model) BETWEEN 1 AND 200),
  -- HNSW indexes on `vector` support at most 2000 dimensions.
  embedding_dimensions integer NOT NULL CHECK (embedding_dimensions BETWEEN 1 AND 2000),
  text_search_config regconfig NOT NULL DEFAULT 'english',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE documents (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  collection_id bigint NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
  source_id text NOT NULL CHECK (length(source_id) BETWEEN 1 AND 1024),
  kind text NOT NULL CHECK (kind IN ('guideline', 'product')),
  title text NOT NULL DEFAULT '',
  content_hash text NOT NULL,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (collection_id, source_id)
);

CREATE INDEX documents_metadata_idx ON documents USING gin (metadata jsonb_path_ops);

-- The embedding has no fixed dimension here because collections differ; each collection gets its own
-- HNSW expression index `((embedding::vector(N)) vector_cosine_ops) WHERE collection_id = X`,
-- created with the collection (see src/db/collections.ts).
CREATE TABLE chunks (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  document_id bigint NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
  collection_id bigint NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
  ordinal integer NOT NULL,
  heading_path text NOT NULL DEFAULT '',
  text text NOT NULL,
  token_count integer NOT NULL,
  content_hash text NOT NULL,
  embedding vector,
  embedding_model text,
  -- Copied from the collection so the generated column below stays immutable.
  ts_config regconfig NOT NULL,
  tsv tsvector GENERATED ALWAYS AS (to_tsvector(ts_config, heading_path || ' ' || text)) STORED,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (document_id, ordinal),
  CHECK ((embedding IS NULL) = (embedding_model IS NULL))
);

CREATE INDEX chunks_tsv_idx ON chunks USING gin (tsv);
CREATE INDEX chunks_collection_idx ON chunks (collection_id);
-- Embedding reuse looks chunks up by (collection, content hash, model).
CREATE INDEX chunks_reuse_idx ON chunks (collection_id, content_hash, embedding_model)
  WHERE embedding IS NOT NULL;
CREATE INDEX chunks_unembedded_idx ON chunks (collection_id) WHERE embedding IS NULL;

CREATE TABLE api_keys (
  id text PRIMARY KEY CHECK (id ~ '^[a-z0-9]{12}$'),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  -- SHA-256 of the whole key; the key itself is never stored.
  key_hash bytea NOT NULL,
  scopes text[] NOT NULL CHECK (scopes <@ ARRAY['generate', 'admin']::text[] AND cardinality(scopes) > 0),
  -- NULL means every collection.
  collections text[],
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz,
  last_used_at timestamptz
);

CREATE TABLE ingest_jobs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  collection_id bigint NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
  status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
  mode text NOT NULL DEFAULT 'upsert' CHECK (mode IN ('upsert', 'sync', 'backfill')),
  options jsonb NOT NULL DEFAULT '{}'::jsonb,
  progress jsonb NOT NULL DEFAULT '{}'::jsonb,
  errors jsonb NOT NULL DEFAULT '[]'::jsonb,
  error text,
  attempts integer NOT NULL DEFAULT 0,
  locked_by text,
  locked_until timestamptz,
  created_by text REFERENCES api_keys (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz
);

CREATE INDEX ingest_jobs_claim_idx ON ingest_jobs (created_at) WHERE status IN ('queued', 'running');

-- The inputs of a job, kept in the database so a reclaimed job sees exactly what the first worker saw.
CREATE TABLE ingest_job_files (
  job_id uuid NOT NULL REFERENCES ingest_jobs (id) ON DELETE CASCADE,
  ordinal integer NOT NULL,
  name text NOT NULL,
  content bytea NOT NULL,
  PRIMARY KEY (job_id, ordinal)
);

CREATE TABLE tasks (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{0,62}$'),
  active_version integer,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE task_versions (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  task_id bigint NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  version integer NOT NULL,
  description text NOT NULL DEFAULT '',
  system_prompt text NOT NULL,
  retrieval jsonb NOT NULL DEFAULT '{}'::jsonb,
  route jsonb NOT NULL,
  output jsonb NOT NULL DEFAULT '{"type": "text"}'::jsonb,
  temperature real,
  max_tokens integer,
  created_by text REFERENCES api_keys (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (task_id, version)
);

CREATE TABLE generations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  request_id text NOT NULL,
  task_version_id bigint REFERENCES task_versions (id) ON DELETE SET NULL,
  api_key_id text REFERENCES api_keys (id) ON DELETE SET NULL,
  collection_id bigint REFERENCES collections (id) ON DELETE SET NULL,
  endpoint text NOT NULL DEFAULT 'generate',
  subject text,
  strategy text,
  route_reason text,
  model text,
  fell_back boolean NOT NULL DEFAULT false,
  chunk_ids bigint[] NOT NULL DEFAULT '{}',
  input jsonb NOT NULL DEFAULT '{}'::jsonb,
  output text,
  prompt_tokens integer,
  completion_tokens integer,
  cost_usd numeric(14, 8),
  latency_ms integer,
  status text NOT NULL CHECK (status IN ('succeeded', 'failed')),
  error text,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX generations_task_idx ON generations (task_version_id, created_at);

CREATE TABLE feedback (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  generation_id uuid NOT NULL REFERENCES generations (id) ON DELETE CASCADE,
  rating smallint CHECK (rating BETWEEN 1 AND 5),
  approved boolean,
  corrected_output text,
  comment text,
  api_key_id text REFERENCES api_keys (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX feedback_generation_idx ON feedback (generation_id);
