-- Predictions of keypoints and segmentation models, queryable beside the class columns: the task,
-- each named point (in the original image's pixels) with its score, and a mask's foreground area
-- and the image size it was drawn on. predicted_label stays '' for them; confidence holds the mean
-- point score (keypoints) or the foreground share of the image (segmentation). The drift query
-- bins these (keypoint_score, mask_area) against the model's own earlier predictions.
ALTER TABLE predictions
  ADD COLUMN task String DEFAULT 'classification',
  ADD COLUMN point_names Array(String),
  ADD COLUMN point_x Array(Float32),
  ADD COLUMN point_y Array(Float32),
  ADD COLUMN point_scores Array(Float32),
  ADD COLUMN mask_area UInt32 DEFAULT 0,
  ADD COLUMN image_width UInt32 DEFAULT 0,
  ADD COLUMN image_height UInt32 DEFAULT 0;
