-- Learn, part 3: promotions and rollbacks of a task's model route, each with who, when and the evidence.

CREATE TABLE promotions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  task_id integer NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  action text NOT NULL CHECK (action IN ('promote', 'rollback')),
  -- promote: the model and the strategy it now serves under; rollback: the model the restored version serves.
  model text,
  strategy text CHECK (strategy IN ('foundation', 'fine_tuned', 'split')),
  from_version integer NOT NULL,
  to_version integer NOT NULL,
  -- Promoted although the evidence was missing or said no.
  forced boolean NOT NULL DEFAULT false,
  -- The evaluation compared (run, arms, rates, intervals, margin) or why there was none.
  evidence jsonb NOT NULL DEFAULT '{}'::jsonb,
  reason text,
  created_by text REFERENCES api_keys (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX promotions_task_idx ON promotions (task_id, created_at DESC);
