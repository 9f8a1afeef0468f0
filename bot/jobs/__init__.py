"""Scheduled work: the leader-elected scheduler and the jobs it runs (retention)."""
