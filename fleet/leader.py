"""One leader among the server processes for the fleet-wide sweeps (offline alerts, expiries).

Every process serves kiosks and operators; only the leader sweeps, so a kiosk gone silent gets
one offline alert, not one per process (the set-based update would refuse the second anyway:
leadership saves the work, the update keeps it exact). On PostgreSQL the leader holds a
session-level advisory lock on a connection of its own: if the process or its connection dies,
PostgreSQL drops the lock and the next process to try takes over. On SQLite (one machine) it is
an exclusive lock on a file beside the database, dropped by the kernel when the process ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SWEEP_LOCK = 8471  # the advisory lock's key (8470 is the migrations')


class Leadership:
    """`await is_leader()` before each sweep: True while this process holds the lock."""

    def __init__(self, database_url: str | None, data_dir: Path) -> None:
        self._dsn = database_url if database_url and "://" in database_url else None
        self._lock_path = data_dir / "sweeper.lock"
        self._conn: Any = None  # Any: an asyncpg connection (untyped library)
        self._fd: int | None = None

    async def is_leader(self) -> bool:
        if self._dsn is None:
            return self._file_lock()
        return await self._advisory_lock()

    def _file_lock(self) -> bool:
        if self._fd is not None:
            return True
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        log.info("this process sweeps the fleet (leader)")
        return True

    async def _advisory_lock(self) -> bool:
        import asyncpg

        if self._conn is not None:
            if not self._conn.is_closed():
                return True
            self._conn = None  # the connection died, and the lock with it
            log.warning("lost the sweep leadership (its database connection closed)")
        conn = await asyncpg.connect(self._dsn)
        if await conn.fetchval("SELECT pg_try_advisory_lock($1)", SWEEP_LOCK):
            self._conn = conn
            log.info("this process sweeps the fleet (leader)")
            return True
        await conn.close()
        return False

    async def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
