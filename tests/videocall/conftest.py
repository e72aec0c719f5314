"""The fleet server on SQLite and a real PostgreSQL, as tests/fleet runs it."""

from tests.fleet.conftest import backend, fleet, pg_dsn  # noqa: F401 - pytest fixtures
