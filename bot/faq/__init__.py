"""FAQ refresh: frequent questions mined from the audit log, drafted, reviewed by owners, served first."""
