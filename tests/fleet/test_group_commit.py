"""Group commit on both stores: units that wait together commit together, and one failing
unit is undone alone while its caller hears why."""

from __future__ import annotations

import asyncio

import pytest

from fleet.app import open_store
from tests.fleet.fleetkit import config_for


class Refused(Exception):
    pass


async def test_a_failing_unit_is_undone_alone_and_the_rest_commit(backend, tmp_path, request):
    pg = request.getfixturevalue("pg_dsn") if backend == "postgresql" else None
    store = await open_store(await config_for(backend, tmp_path, pg))
    db = store.db

    def unit(name: str, fail: bool):
        async def work(tx):
            await tx.execute(
                "INSERT INTO server_counters (name, label, value) VALUES ($1, '', 1)", name
            )
            if fail:
                raise Refused(name)
            return name

        return work

    try:
        names = [f"unit-{i}" for i in range(20)]
        results = await asyncio.gather(
            *(db.run_unit(unit(n, fail=(i % 7 == 3)), n) for i, n in enumerate(names)),
            return_exceptions=True,
        )
        failed = {n for i, n in enumerate(names) if i % 7 == 3}
        for name, result in zip(names, results, strict=True):
            if name in failed:
                assert isinstance(result, Refused) and str(result) == name
            else:
                assert result == name
        rows = await db.fetch("SELECT name FROM server_counters")
        assert {r["name"] for r in rows} == set(names) - failed
    finally:
        await store.close()


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_unit_that_awaits_something_else_is_refused(backend, tmp_path):
    store = await open_store(await config_for(backend, tmp_path, None))
    try:

        async def sleeps(tx):
            await asyncio.sleep(0)  # not its connection: it would run on the SQLite thread
            return 1

        from fleet.group_commit import UnitAwaitedElsewhere

        with pytest.raises(UnitAwaitedElsewhere):
            await store.db.run_unit(sleeps)
    finally:
        await store.close()
