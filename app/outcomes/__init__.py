"""Outcome measures: instruments, their scoring, schedules and responses, adherence."""
