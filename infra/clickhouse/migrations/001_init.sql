-- Core tables. Every table is a ReplacingMergeTree keyed by the event's identity, with a version
-- column, so a redelivered event replaces its twin: read with FINAL (or argMax) for exact counts.
-- Timestamps: a DateTime for partitioning and time functions, plus *_ms UInt64 for millisecond
-- precision (18.16 has no DateTime64).

CREATE TABLE IF NOT EXISTS images (
  id String,
  source String,
  dataset String,
  split String,
  label String,
  spec_version String,
  content_type String,
  source_bytes UInt64,
  source_width UInt32,
  source_height UInt32,
  source_channels UInt8,
  source_format String,
  mean Float32,
  std Float32,
  blank UInt8,
  raw_topic String,
  raw_partition UInt32,
  raw_offset UInt64,
  processing_ms Float32,
  ingested_at DateTime,
  ingested_at_ms UInt64,
  preprocessed_at_ms UInt64
) ENGINE = ReplacingMergeTree(preprocessed_at_ms)
PARTITION BY toYYYYMM(ingested_at)
ORDER BY id;

CREATE TABLE IF NOT EXISTS rejections (
  id String,
  stage String,
  reason_code String,
  message String,
  source String,
  content_type String,
  size_bytes UInt64,
  raw_topic String,
  raw_partition Int32,
  raw_offset Int64,
  rejected_at DateTime,
  rejected_at_ms UInt64
) ENGINE = ReplacingMergeTree(rejected_at_ms)
PARTITION BY toYYYYMM(rejected_at)
ORDER BY (id, stage);

CREATE TABLE IF NOT EXISTS predictions (
  id String,
  model_version String,
  role String,
  predicted_label String,
  confidence Float32,
  top_k_labels Array(String),
  top_k_p Array(Float32),
  label String,
  has_label UInt8,
  correct UInt8,
  latency_ms Float64,
  inference_ms Float64,
  origin String,
  source String,
  predicted_at DateTime,
  predicted_at_ms UInt64
) ENGINE = ReplacingMergeTree(predicted_at_ms)
PARTITION BY toYYYYMM(predicted_at)
ORDER BY (id, model_version, role);

CREATE TABLE IF NOT EXISTS training_runs (
  run_id String,
  trigger String,
  status String,
  params String,
  lineage String,
  class_counts String,
  backend String,
  train_samples UInt32,
  val_samples UInt32,
  test_samples UInt32,
  epochs UInt32,
  val_loss Float64,
  val_accuracy Float64,
  test_loss Float64,
  test_accuracy Float64,
  confusion String,
  samples_per_sec Float64,
  model_version String,
  promoted UInt8,
  error String,
  started_at DateTime,
  started_at_ms UInt64,
  finished_at_ms UInt64,
  duration_ms UInt64,
  updated_at_ms UInt64
) ENGINE = ReplacingMergeTree(updated_at_ms)
PARTITION BY toYYYYMM(started_at)
ORDER BY run_id;

CREATE TABLE IF NOT EXISTS training_epochs (
  run_id String,
  epoch UInt32,
  loss Float64,
  accuracy Float64,
  val_loss Float64,
  val_accuracy Float64,
  learning_rate Float64,
  samples_per_sec Float64,
  duration_ms UInt64,
  at DateTime,
  at_ms UInt64
) ENGINE = ReplacingMergeTree(at_ms)
PARTITION BY toYYYYMM(at)
ORDER BY (run_id, epoch);

CREATE TABLE IF NOT EXISTS model_versions (
  version String,
  run_id String,
  spec_version String,
  labels Array(String),
  metrics String,
  artifact_uri String,
  aliases Array(String),
  published_at DateTime,
  published_at_ms UInt64
) ENGINE = ReplacingMergeTree(published_at_ms)
PARTITION BY toYYYYMM(published_at)
ORDER BY version;
