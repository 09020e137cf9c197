-- A job's execution plan (Flatfile's JobExecutionPlan; JobPlanned), NULL until one is set.
ALTER TABLE job ADD COLUMN plan jsonb;
