-- The quality gate (lib/ml/quality-gate.ts, trainer/quality-gate.ts). Written for ClickHouse 18.16 and
-- current servers alike: no DateTime64 (ms sit in a UInt64 beside the DateTime), no Bool, no JSON
-- type (checks and metrics are JSON text), no TTL.
--
-- gate_golden_sets: the fixed set of held-out images every candidate is judged on, recorded once
-- per (topic, spec) with the tensors themselves, so the set survives topic retention and the same
-- candidate judged twice gets the same numbers. Should two processes record at once, readers take
-- the earliest row (created_at_ms, then set_id), so every process agrees on one set.
CREATE TABLE IF NOT EXISTS gate_golden_sets (
  set_id String,
  topic String,
  spec_version String,
  images UInt32,
  labels Array(String),
  source String,
  items String,
  created_at DateTime,
  created_at_ms UInt64
) ENGINE = ReplacingMergeTree(created_at_ms)
PARTITION BY toYYYYMM(created_at)
ORDER BY (topic, spec_version, set_id);

-- gate_verdicts: one row per gate evaluation before a production move: the version, its metrics and
-- production's on the golden set, each check with value / threshold / passed, the verdict
-- (passed | refused | forced), the reasons, who asked (key id or 'cli' / 'trainer') and the reason
-- given for a forced move. Keyed by verdict_id so a retried insert collapses into one row.
CREATE TABLE IF NOT EXISTS gate_verdicts (
  verdict_id String,
  version String,
  verdict String,
  reasons Array(String),
  checks String,
  candidate String,
  production String,
  production_version String,
  golden_set_id String,
  golden_images UInt32,
  trigger String,
  actor String,
  reason String,
  evaluated_at DateTime,
  evaluated_at_ms UInt64
) ENGINE = ReplacingMergeTree(evaluated_at_ms)
PARTITION BY toYYYYMM(evaluated_at)
ORDER BY (version, verdict_id);
