"""Fixtures: the fleet server on each store backend (SQLite and a real PostgreSQL)."""

from __future__ import annotations

import pytest

from tests.fleet.fleetkit import PG_BIN, Fleet, config_for, postgres_cluster

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def pg_dsn():
    if not (PG_BIN / "initdb").exists():
        pytest.skip("PostgreSQL 15 is not installed (scripts/setup.sh installs it)")
    with postgres_cluster() as dsn:
        yield dsn


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
async def fleet(backend, tmp_path, request):
    pg = request.getfixturevalue("pg_dsn") if backend == "postgresql" else None
    f = Fleet(await config_for(backend, tmp_path, pg))
    await f.start()
    yield f
    await f.close()
