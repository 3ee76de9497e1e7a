-- Every task trains through the same run lifecycle (trainer/train-run.ts): a run says which task it
-- trained and carries that task's own held-out scores (keypoints: pck05, pck10, mean_error_px;
-- segmentation: mean_iou, mean_dice) beside the loss columns, as a JSON object. Runs recorded
-- before this migration were classifier runs.
ALTER TABLE training_runs
  ADD COLUMN task String DEFAULT 'classification',
  ADD COLUMN task_metrics String DEFAULT '';
