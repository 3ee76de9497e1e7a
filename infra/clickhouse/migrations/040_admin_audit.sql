-- Who did what to the models: every admin request (train, promote, rollback, reload), allowed or
-- refused, with the key id (never the key), what it aimed at and how it ended. Keyed by the request
-- id so a retried insert of the same record collapses into one row.
CREATE TABLE IF NOT EXISTS admin_audit (
  request_id String,
  key_id String,
  action String,
  target String,
  outcome String,
  status UInt16,
  method String,
  route String,
  client String,
  at DateTime,
  at_ms UInt64
) ENGINE = ReplacingMergeTree(at_ms)
PARTITION BY toYYYYMM(at)
ORDER BY (action, at, request_id);
