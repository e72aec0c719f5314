"""Releases built once per session by the real builder, a display, and kiosk machines with the
first release installed the way a technician installs it."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.journal import TxState
from kiosk.transaction import JournalWriter
from tests.update.bundle_server import BundleServer
from tests.update.machine import Machine
from tests.update.releases import Release, build_release
from tests.update.service_manager import ServiceManager
from wire.update.manifest import public_key_text


@pytest.fixture(scope="session")
def release_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="session")
def trusted(release_key) -> list[str]:
    return [public_key_text(release_key)]


@pytest.fixture(scope="session")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("releases")


class Releases:
    """The releases a test asks for, each built the first time it is asked for."""

    def __init__(self, workdir: Path, key: Ed25519PrivateKey) -> None:
        self.workdir = workdir
        self.key = key
        self._built: dict[tuple, Release] = {}

    def get(self, version: str, **options) -> Release:
        wanted = (version, tuple(sorted(options.items())))
        if wanted not in self._built:
            self._built[wanted] = build_release(self.workdir, self.key, version, **options)
        return self._built[wanted]

    @property
    def base_full(self) -> Release:
        """1.0.0 with its runtime: what a kiosk with nothing on it needs."""
        return self.get("1.0.0", include_runtime=True)

    @property
    def base(self) -> Release:
        """1.0.0 without the runtime (the kiosks in the tests have it already)."""
        return self.get("1.0.0")


@pytest.fixture(scope="session")
def releases(workdir, release_key) -> Releases:
    return Releases(workdir, release_key)


@pytest.fixture(scope="session")
def runtime_store(tmp_path_factory, releases, trusted) -> Path:
    """The runtimes folder of a kiosk that installed the full first release (once: building
    the bundle, extracting and compiling 400 MB take 40 s); machines get hard links to it (it
    is never written). The suite's workers share one: the first to ask installs it, under a
    lock, and the other waits for it (the runtime is named by its content, not by the key
    that signed the bundle it came in)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.getbasetemp().parent / "first-install-shared"
    else:
        folder = tmp_path_factory.mktemp("first-install")
    folder.mkdir(exist_ok=True)
    root = folder / "root"
    with open(folder / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "done").exists():   # not half an install a failed worker left
            shutil.rmtree(root, ignore_errors=True)
            Machine(root, trusted).install_first(releases.base_full.bundle)
            (folder / "done").touch()
    return root / "opt/kiosk/runtimes"


@pytest.fixture(scope="session")
def display() -> Iterator[dict[str, str]]:
    from simulator.xvfb import virtual_display

    with virtual_display() as env:
        yield env


@pytest.fixture
def machine(tmp_path, trusted, runtime_store, releases) -> Machine:
    """A kiosk with 1.0.0 in a slot (not yet started) and a journal of settled transactions."""
    return machine_at(tmp_path / "machine", trusted, runtime_store, releases)


def machine_at(root: Path, trusted: list[str], runtime_store: Path, releases: Releases) -> Machine:
    made = Machine(root, trusted)
    runtimes = made.root / "opt/kiosk/runtimes"
    runtimes.rmdir()
    subprocess.run(["cp", "-al", str(runtime_store), str(runtimes)], check=True)
    made.install_first(releases.base.bundle)
    made.guard("boot")  # what the first start does: 1.0.0 becomes the good slot
    assert made.current_slot() == "a"
    seed_journal(made)
    return made


def seed_journal(machine: Machine) -> None:
    """Transactions a kiosk served before the update, written by the journal itself."""
    journal = JournalWriter(machine.root / "var/lib/kiosk/journal.sqlite3", "KIOSK-UPDATE-TEST")
    try:
        for service in ("queue_ticket", "utility_bill"):
            tx = journal.create(service)
            tx = journal.transition(tx, TxState.QUOTED, amount_fen=1250)
            journal.transition(tx, TxState.CANCELLED, "citizen_cancelled")
    finally:
        journal.close()


@pytest.fixture
def manager_for(display) -> Iterator:
    """Boots machines; every one still running at the end of the test is shut down."""
    started: list[ServiceManager] = []

    def boot(machine: Machine, **options) -> ServiceManager:
        manager = ServiceManager(machine, display, **options).boot()
        started.append(manager)
        return manager

    yield boot
    for manager in started:
        manager.shutdown()


@pytest.fixture
def served(releases) -> Iterator[BundleServer]:
    folder = releases.workdir
    with BundleServer(folder) as server:
        yield server


def copy_bundle(release: Release, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(release.bundle, folder / release.bundle.name))


@pytest.fixture
async def fleet(request, tmp_path, trusted):
    """The real fleet server, trusting the tests' release key: on SQLite, or on the store a
    test asks for (`@pytest.mark.parametrize("fleet", [...], indirect=True)`)."""
    from tests.fleet.fleetkit import Fleet, config_for

    backend = getattr(request, "param", "sqlite")
    pg = request.getfixturevalue("pg_dsn") if backend == "postgresql" else None
    made = Fleet(await config_for(backend, tmp_path, pg, release_keys=tuple(trusted)))
    await made.start()
    yield made
    await made.close()


@pytest.fixture
async def operator(fleet):
    """A signed-in operator's HTTP session."""
    from fleet.store import Role

    session = await fleet.operator("olga", Role.OPERATOR)
    yield session
    await session.close()


@pytest.fixture(scope="session")
def pg_dsn():
    from tests.fleet.fleetkit import PG_BIN, postgres_cluster

    if not (PG_BIN / "initdb").exists():
        pytest.skip("PostgreSQL 15 is not installed (scripts/setup.sh installs it)")
    with postgres_cluster() as dsn:
        yield dsn
