-- Learn, part 2: evaluation sets, the frozen, versioned cases an evaluation run puts through each arm.

CREATE TABLE eval_sets (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  task_id bigint NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  name text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{0,62}$'),
  -- A set is never changed: posting the same name again makes the next version.
  version integer NOT NULL CHECK (version >= 1),
  source text NOT NULL CHECK (source IN ('upload', 'sampled')),
  -- How it was made (the sampling request, or the upload's size), for the record.
  params jsonb NOT NULL,
  case_count integer NOT NULL CHECK (case_count >= 1),
  -- sha256 of the cases as stored: two versions with the same hash hold the same cases.
  content_hash text NOT NULL,
  created_by text REFERENCES api_keys (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (task_id, name, version)
);

CREATE TABLE eval_cases (
  eval_set_id uuid NOT NULL REFERENCES eval_sets (id) ON DELETE CASCADE,
  ordinal integer NOT NULL CHECK (ordinal >= 1),
  input text NOT NULL,
  variables jsonb NOT NULL DEFAULT '{}'::jsonb,
  subject text,
  -- The output the case should come close to: a sampled generation's corrected (or approved) output.
  reference text,
  checks jsonb NOT NULL DEFAULT '[]'::jsonb,
  -- The generation a sampled case came from (recorded in generation_purposes as 'evaluation').
  generation_id uuid,
  PRIMARY KEY (eval_set_id, ordinal)
);

-- Frozen: a run's results are only comparable with another's if the cases cannot change under them.
CREATE FUNCTION eval_sets_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'evaluation sets are frozen: create a new version instead' USING ERRCODE = '55000';
END
$$;
CREATE TRIGGER eval_sets_frozen BEFORE UPDATE ON eval_sets FOR EACH ROW EXECUTE FUNCTION eval_sets_frozen();
CREATE TRIGGER eval_cases_frozen BEFORE UPDATE ON eval_cases FOR EACH ROW EXECUTE FUNCTION eval_sets_frozen();
