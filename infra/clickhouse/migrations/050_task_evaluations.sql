-- Keypoints and segmentation (lib/tasks, trainer/task-run.ts): one row per held-out image a run
-- scored, in the original image's pixels, so quality can be followed per model version and over
-- time. Written for ClickHouse 18.16 and current servers alike: no Map (per point errors are two
-- parallel arrays), no DateTime64 (ms beside the DateTime). Keyed by (run_id, image_id) so a
-- retried insert collapses into one row.
--
-- keypoints: points = labelled points compared, mean_error_px over them, pck05 / pck10 = the share
-- within 5 % / 10 % of the image's longer side, point_names / point_errors per point.
-- segmentation: iou and dice of the predicted mask against the truth, both areas in pixels.
CREATE TABLE IF NOT EXISTS task_evaluations (
  run_id String,
  model_version String,
  task String,
  split String,
  image_id String,
  points UInt16,
  mean_error_px Float32,
  pck05 Float32,
  pck10 Float32,
  point_names Array(String),
  point_errors Array(Float32),
  iou Float32,
  dice Float32,
  predicted_area UInt32,
  truth_area UInt32,
  evaluated_at DateTime,
  evaluated_at_ms UInt64
) ENGINE = ReplacingMergeTree(evaluated_at_ms)
PARTITION BY toYYYYMM(evaluated_at)
ORDER BY (run_id, image_id);
