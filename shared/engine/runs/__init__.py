"""Pipeline runs: plan chunks from a source connection → run chunks (read, filter, transform, validate, write) → close the run; schedules, dead letters, budgets, backfills."""
