-- Requests are no longer counted one statement per request: each API instance claims a block of a key's
-- minute (`requests` now totals the requests granted to all instances) and admits from it in memory.
-- `last_claim` is what the latest claim was granted, computed from the row as it stood under the row lock,
-- so a claim learns its grant in the same statement that takes it.
ALTER TABLE rate_limit_windows ADD COLUMN last_claim integer NOT NULL DEFAULT 0;
