-- Insights count a task's clean examples (approved or corrected generations) on every request: a partial
-- index keeps that to the reviewed rows instead of every generation the task ever made.
CREATE INDEX generations_clean_examples_idx ON generations (task_version_id)
  WHERE review_state IN ('approved', 'corrected');
