"""Two thin database backends behind one async interface, so the fleet store is written once.

SQL is written in PostgreSQL's `$1` placeholder style; the SQLite backend rewrites it to SQLite's
numbered `?1`. Both are used only with types the two agree on: INTEGER (booleans as 0/1), REAL /
DOUBLE PRECISION for epoch seconds, TEXT (JSON as text). SQLite runs on one worker thread that
owns its connection, so the event loop never blocks on the disk.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

_PLACEHOLDER = re.compile(r"\$(\d+)")


class Connection(Protocol):
    dialect: str

    async def execute(self, sql: str, *args: Any) -> int: ...
    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]: ...
    async def fetchrow(self, sql: str, *args: Any) -> dict[str, Any] | None: ...
    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...


class Database(Connection, Protocol):
    def transaction(self) -> Any: ...  # async context manager yielding a Connection
    async def close(self) -> None: ...


class SqliteDatabase:
    """SQLite (WAL) on a single worker thread; statements are serialised by an asyncio lock."""

    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fleet-sqlite")
        self._lock = asyncio.Lock()
        self._conn: sqlite3.Connection | None = None
        self._thread: threading.Thread | None = None

    async def open(self) -> None:
        def connect() -> None:
            conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=5000")
            self._conn = conn

        await self._run(connect)

    async def _run(self, fn: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    # Raw operations (caller holds the lock).
    async def _execute(self, sql: str, args: Sequence[Any], begin: bool = False) -> int:
        sql = _PLACEHOLDER.sub(r"?\1", sql)

        def run() -> int:
            assert self._conn is not None
            if (
                begin
            ):  # opening the transaction in the same hop to the thread as its first statement
                self._conn.execute("BEGIN IMMEDIATE")
            return self._conn.execute(sql, tuple(args)).rowcount

        return await self._run(run)

    async def _fetch(
        self, sql: str, args: Sequence[Any], begin: bool = False
    ) -> list[dict[str, Any]]:
        sql = _PLACEHOLDER.sub(r"?\1", sql)

        def run() -> list[dict[str, Any]]:
            assert self._conn is not None
            if begin:
                self._conn.execute("BEGIN IMMEDIATE")
            return [dict(r) for r in self._conn.execute(sql, tuple(args)).fetchall()]

        return await self._run(run)

    async def _executemany(
        self, sql: str, rows: Sequence[Sequence[Any]], begin: bool = False
    ) -> None:
        sql = _PLACEHOLDER.sub(r"?\1", sql)

        def run() -> None:
            assert self._conn is not None
            if begin:
                self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany(sql, [tuple(r) for r in rows])

        await self._run(run)

    async def executescript(self, script: str) -> None:
        async with self._lock:

            def run() -> None:
                assert self._conn is not None
                self._conn.executescript(script)

            await self._run(run)

    async def execute(self, sql: str, *args: Any) -> int:
        async with self._lock:
            return await self._execute(sql, args)

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        async with self._lock:
            return await self._fetch(sql, args)

    async def fetchrow(self, sql: str, *args: Any) -> dict[str, Any] | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        async with self._lock:
            await self._executemany(sql, rows)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_SqliteTx]:
        async with self._lock:
            tx = _SqliteTx(self)
            try:
                yield tx
            except BaseException:
                if tx.begun:
                    await self._execute("ROLLBACK", ())
                raise
            if tx.begun:
                await self._execute("COMMIT", ())

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await self._run(conn.close)
        self._executor.shutdown(wait=True)


class _SqliteTx:
    """A transaction on the SQLite thread; BEGIN rides along with its first statement."""

    dialect = "sqlite"

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        self.begun = False

    def _begin(self) -> bool:
        first, self.begun = not self.begun, True
        return first

    async def execute(self, sql: str, *args: Any) -> int:
        return await self._db._execute(sql, args, self._begin())

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        return await self._db._fetch(sql, args, self._begin())

    async def fetchrow(self, sql: str, *args: Any) -> dict[str, Any] | None:
        rows = await self._db._fetch(sql, args, self._begin())
        return rows[0] if rows else None

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self._db._executemany(sql, rows, self._begin())


def _rowcount(status: str) -> int:
    # asyncpg returns the command tag, e.g. "UPDATE 3" or "INSERT 0 1".
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


class PostgresDatabase:
    """PostgreSQL through an asyncpg pool."""

    dialect = "postgresql"

    def __init__(self, dsn: str, min_size: int = 2, max_size: int = 10) -> None:
        self.dsn = dsn
        self._min, self._max = min_size, max_size
        self._pool: Any = None

    async def open(self) -> None:
        import asyncpg

        self._pool = await asyncpg.create_pool(self.dsn, min_size=self._min, max_size=self._max)

    async def executescript(self, script: str) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(script)

    async def execute(self, sql: str, *args: Any) -> int:
        return _rowcount(await self._pool.execute(sql, *args))

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        return [dict(r) for r in await self._pool.fetch(sql, *args)]

    async def fetchrow(self, sql: str, *args: Any) -> dict[str, Any] | None:
        row = await self._pool.fetchrow(sql, *args)
        return dict(row) if row is not None else None

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self._pool.executemany(sql, rows)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_PostgresTx]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield _PostgresTx(conn)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


class _PostgresTx:
    dialect = "postgresql"

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def execute(self, sql: str, *args: Any) -> int:
        return _rowcount(await self._conn.execute(sql, *args))

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        return [dict(r) for r in await self._conn.fetch(sql, *args)]

    async def fetchrow(self, sql: str, *args: Any) -> dict[str, Any] | None:
        row = await self._conn.fetchrow(sql, *args)
        return dict(row) if row is not None else None

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self._conn.executemany(sql, rows)


async def open_database(url: str | None, data_dir: Path) -> SqliteDatabase | PostgresDatabase:
    """`postgresql://...` opens PostgreSQL; anything else SQLite at DATA/fleet.sqlite3."""
    db: SqliteDatabase | PostgresDatabase
    if url and url.startswith(("postgres://", "postgresql://")):
        db = PostgresDatabase(url)
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        db = SqliteDatabase(Path(url) if url else data_dir / "fleet.sqlite3")
    await db.open()
    return db
