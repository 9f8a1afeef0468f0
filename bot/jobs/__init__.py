"""Scheduled work: schedules and their runs as data, the job kinds, and the leader-elected scheduler."""
