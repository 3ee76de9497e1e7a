// Synthetic keypoint and mask data sets with exact ground truth, written in the formats of the real
// sets they stand in for. Self-contained (depends on lib/ only for errors and image encoding).

export { generateCar } from './cars.ts';
export { writeCarsDataset } from './cars-carvana.ts';
export { FACE_KEYPOINTS, generateFace } from './faces.ts';
export { writeFacesDataset } from './faces-kaggle.ts';
export { generatePose, POSE_KEYPOINTS, POSE_SKELETON } from './pose.ts';
export { writePoseDataset } from './pose-coco.ts';

/** What each writer creates in its output folder: a rerun must replace all of it or none. */
export const DATASET_OUTPUTS = {
  faces: ['training.csv', 'test.csv', 'test_keypoints.csv'],
  pose: ['person_keypoints_train.json', 'train', 'person_keypoints_test.json', 'test'],
  cars: ['train', 'train_masks', 'train_masks.csv', 'test', 'test_masks', 'test_masks.csv'],
} as const;
