-- What a run was compared against when deciding on promotion (the production model evaluated on
-- this run's validation split), why it was or was not promoted, which events were skipped while
-- reading the dataset, and how many requests were coalesced into the run.
ALTER TABLE training_runs
  ADD COLUMN baseline_version String DEFAULT '',
  ADD COLUMN baseline_val_loss Float64 DEFAULT 0,
  ADD COLUMN baseline_val_accuracy Float64 DEFAULT 0,
  ADD COLUMN promotion_reason String DEFAULT '',
  ADD COLUMN skipped String DEFAULT '',
  ADD COLUMN coalesced UInt32 DEFAULT 0;
