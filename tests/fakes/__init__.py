"""Local fakes of the services Kura talks to, for tests."""
