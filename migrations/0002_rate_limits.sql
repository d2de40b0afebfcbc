-- Per-key rate limits. NULL means "the server default" (RATE_LIMIT_RPM / RATE_LIMIT_TPM); 0 means unlimited.
ALTER TABLE api_keys
  ADD COLUMN rate_limit_rpm integer CHECK (rate_limit_rpm >= 0),
  ADD COLUMN rate_limit_tpm integer CHECK (rate_limit_tpm >= 0);

-- One row per key per minute: the fixed-window counters every API instance updates atomically, which is
-- what makes a limit hold across instances. Rows older than the previous minute are deleted as keys are used.
CREATE TABLE rate_limit_windows (
  key_id text NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
  window_start timestamptz NOT NULL,
  requests integer NOT NULL DEFAULT 0,
  tokens bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (key_id, window_start)
);
