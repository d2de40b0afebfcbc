-- Learn, part 3: the model registry. Every model a task may name, with its endpoint, prices and provenance.
-- The built-in catalog and MODELS_FILE / MODELS_JSON seed it at start; POST/PATCH /v1/model-registry and
-- finished fine-tune jobs add to it. API keys are never stored: only the NAME of the environment variable
-- holding one (NULL: the default key, OPENAI_API_KEY or the models file's).

CREATE TABLE models (
  id text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 200),
  kind text NOT NULL CHECK (kind IN ('foundation', 'fine_tuned')),
  -- The model a fine-tuned model was trained from (free text: it may live on another provider).
  base_model text,
  -- NULL: the default endpoint (MODELS_FILE defaults.baseURL, else OPENAI_BASE_URL).
  base_url text,
  api_key_env text CHECK (api_key_env ~ '^[A-Za-z_][A-Za-z0-9_]*$'),
  -- Per 1M tokens, USD. NULL is "not priced", reported as unknown cost, never as 0.
  input_price_per_1m numeric(14, 6) CHECK (input_price_per_1m >= 0),
  output_price_per_1m numeric(14, 6) CHECK (output_price_per_1m >= 0),
  training_price_per_1m numeric(14, 6) CHECK (training_price_per_1m >= 0),
  -- What a model fine-tuned from this one costs to call (set on foundation models that can be fine-tuned).
  fine_tuned_input_price_per_1m numeric(14, 6) CHECK (fine_tuned_input_price_per_1m >= 0),
  fine_tuned_output_price_per_1m numeric(14, 6) CHECK (fine_tuned_output_price_per_1m >= 0),
  -- Deployed fine-tuned models billed by the hour (Azure OpenAI, dedicated endpoints).
  hosting_per_hour numeric(14, 6) CHECK (hosting_per_hour >= 0),
  context_window integer CHECK (context_window >= 512),
  training_example_token_limit integer CHECK (training_example_token_limit >= 1),
  shutdown_date date,
  -- The date the prices were read from the provider's list, when known.
  prices_as_of date,
  -- Provenance of a fine-tuned model: the Onbrand fine-tune job, the provider's job id, the dataset.
  fine_tune_id uuid,
  provider_job_id text,
  dataset_id uuid REFERENCES datasets (id) ON DELETE SET NULL,
  -- Where the row came from: the built-in catalog, the models file, the API, a fine-tune job, or an
  -- existing task found at upgrade.
  source text NOT NULL CHECK (source IN ('catalog', 'file', 'api', 'fine_tune', 'task')),
  created_by text REFERENCES api_keys (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Tasks stored before the registry existed keep working: each model they name is registered, unpriced,
-- on the default endpoint (the catalog and the models file fill in what they know at the next start).
INSERT INTO models (id, kind, source)
SELECT DISTINCT m.id, CASE WHEN m.id LIKE 'ft:%' OR m.fine_tuned THEN 'fine_tuned' ELSE 'foundation' END, 'task'
FROM (
  SELECT route->>'foundationModel' AS id, false AS fine_tuned FROM task_versions
  UNION ALL
  SELECT route->>'fineTunedModel', true FROM task_versions
) m
WHERE m.id IS NOT NULL AND length(m.id) BETWEEN 1 AND 200
ON CONFLICT (id) DO NOTHING;
