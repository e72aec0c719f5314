"""One process sweeps the fleet at a time; when it goes, another takes over."""

from __future__ import annotations

from fleet.leader import Leadership
from tests.fleet.fleetkit import fresh_postgres_database


async def test_one_leader_on_postgresql_and_another_takes_over(pg_dsn, tmp_path):
    dsn = await fresh_postgres_database(pg_dsn)
    first, second = Leadership(dsn, tmp_path / "a"), Leadership(dsn, tmp_path / "b")
    try:
        assert await first.is_leader()
        assert not await second.is_leader()
        assert await first.is_leader()  # it keeps the lock
        await first.close()  # the process ends: PostgreSQL drops its lock
        assert await second.is_leader()
    finally:
        await first.close()
        await second.close()


async def test_one_leader_on_sqlite_and_another_takes_over(tmp_path):
    first, second = Leadership(None, tmp_path), Leadership(None, tmp_path)
    try:
        assert await first.is_leader()
        assert not await second.is_leader()
        await first.close()
        assert await second.is_leader()
    finally:
        await first.close()
        await second.close()
