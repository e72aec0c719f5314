"""Two thin database backends behind one async interface, so the fleet store is written once.

SQL is written in PostgreSQL's `$1` placeholder style; the SQLite backend rewrites it to SQLite's
numbered `?1`. Both are used only with types the two agree on: INTEGER (booleans as 0/1), REAL /
DOUBLE PRECISION for epoch seconds, TEXT (JSON as text). SQLite runs on one worker thread that
owns its connection, so the event loop never blocks on the disk.
"""

from __future__ import annotations

import asyncio
import functools
import re
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from fleet.group_commit import GroupCommit, Unit, Work, drive
from wire.fields import JsonObject

# Any: a SQL parameter (text, a number, bytes, a boolean, None), as sqlite3 and asyncpg take it;
# rows come back as JsonObject.
SqlValue = Any

T = TypeVar("T")
_PLACEHOLDER = re.compile(r"\$(\d+)")


class Connection(Protocol):
    dialect: str

    async def execute(self, sql: str, *args: SqlValue) -> int: ...
    async def fetch(self, sql: str, *args: SqlValue) -> list[JsonObject]: ...
    async def fetchrow(self, sql: str, *args: SqlValue) -> JsonObject | None: ...
    async def executemany(self, sql: str, rows: Sequence[Sequence[SqlValue]]) -> None: ...


class Database(Connection, Protocol):
    def transaction(self) -> AbstractAsyncContextManager[Connection]: ...
    async def run_unit(self, work: Work[T], order_key: str = "") -> T: ...
    async def close(self) -> None: ...


class SqliteDatabase:
    """SQLite (WAL) on a single worker thread; statements are serialised by an asyncio lock.
    Units of work (`run_unit`) are group-committed: see fleet.group_commit."""

    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fleet-sqlite")
        self._lock = asyncio.Lock()
        self._conn: sqlite3.Connection | None = None
        self._thread: threading.Thread | None = None
        self._group = GroupCommit(self._run_batch)

    async def open(self) -> None:
        def connect() -> None:
            conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed enrollment token spent, nonce remembered or session revoked
            # survives a power cut (NORMAL may lose the last commits, and so allow a replay).
            # Group commit pays the extra sync once per batch, not per heartbeat.
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=5000")
            self._conn = conn

        await self._run(connect)

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    # Raw operations (caller holds the lock).
    async def _execute(self, sql: str, args: Sequence[SqlValue], begin: bool = False) -> int:
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
        self, sql: str, args: Sequence[SqlValue], begin: bool = False
    ) -> list[JsonObject]:
        sql = _PLACEHOLDER.sub(r"?\1", sql)

        def run() -> list[JsonObject]:
            assert self._conn is not None
            if begin:
                self._conn.execute("BEGIN IMMEDIATE")
            return [dict(r) for r in self._conn.execute(sql, tuple(args)).fetchall()]

        return await self._run(run)

    async def _executemany(
        self, sql: str, rows: Sequence[Sequence[SqlValue]], begin: bool = False
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

    async def execute(self, sql: str, *args: SqlValue) -> int:
        async with self._lock:
            return await self._execute(sql, args)

    async def fetch(self, sql: str, *args: SqlValue) -> list[JsonObject]:
        async with self._lock:
            return await self._fetch(sql, args)

    async def fetchrow(self, sql: str, *args: SqlValue) -> JsonObject | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    async def executemany(self, sql: str, rows: Sequence[Sequence[SqlValue]]) -> None:
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

    async def run_unit(self, work: Work[T], order_key: str = "") -> T:
        """Run `work(conn)` in the next group-committed batch; its result once COMMIT is done."""
        return await self._group.submit(work, order_key)

    async def _run_batch(self, batch: list[Unit[Any]]) -> None:  # Any: each unit's own result
        def run() -> list[tuple[bool, Any]]:  # Any: each unit's own result
            assert self._conn is not None
            conn, sync = self._conn, _SqliteOnThread(self._conn)
            outcomes: list[tuple[bool, Any]] = []  # Any: each unit's own result
            conn.execute("BEGIN IMMEDIATE")
            try:
                for unit in batch:
                    conn.execute("SAVEPOINT unit")
                    try:
                        outcomes.append((True, drive(unit.work(sync))))
                    except Exception as exc:  # this unit alone is undone; its caller hears why
                        conn.execute("ROLLBACK TO unit")
                        outcomes.append((False, exc))
                    conn.execute("RELEASE unit")
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return outcomes

        async with self._lock:
            outcomes = await self._run(run)
        for unit, (ok, value) in zip(batch, outcomes, strict=True):
            unit.settle(ok, value)

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

    async def execute(self, sql: str, *args: SqlValue) -> int:
        return await self._db._execute(sql, args, self._begin())

    async def fetch(self, sql: str, *args: SqlValue) -> list[JsonObject]:
        return await self._db._fetch(sql, args, self._begin())

    async def fetchrow(self, sql: str, *args: SqlValue) -> JsonObject | None:
        rows = await self._db._fetch(sql, args, self._begin())
        return rows[0] if rows else None

    async def executemany(self, sql: str, rows: Sequence[Sequence[SqlValue]]) -> None:
        await self._db._executemany(sql, rows, self._begin())


@functools.lru_cache(maxsize=512)
def _sqlite_sql(sql: str) -> str:
    """`$1` placeholders as SQLite's `?1` (the store's statements are few; remembered)."""
    return _PLACEHOLDER.sub(r"?\1", sql)


class _SqliteOnThread:
    """The connection as a unit of work sees it on the SQLite thread: every statement runs at
    once (its coroutine never suspends), inside the batch's transaction."""

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, *args: SqlValue) -> int:
        return self._conn.execute(_sqlite_sql(sql), args).rowcount

    async def fetch(self, sql: str, *args: SqlValue) -> list[JsonObject]:
        cursor = self._conn.execute(_sqlite_sql(sql), args)
        return [dict(r) for r in cursor.fetchall()]

    async def fetchrow(self, sql: str, *args: SqlValue) -> JsonObject | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    async def executemany(self, sql: str, rows: Sequence[Sequence[SqlValue]]) -> None:
        self._conn.executemany(_sqlite_sql(sql), [tuple(r) for r in rows])


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
        self._pool: Any = None  # Any: asyncpg (untyped)
        # Units of a batch run one after another on its connection (each statement a round
        # trip), so batches stay small and several run at once, each on a pooled connection;
        # two connections are left for the dashboard and the sweeps.
        self._group = GroupCommit(self._run_batch, max_batch=32, concurrency=max(1, max_size - 2))

    async def open(self) -> None:
        import asyncpg

        self._pool = await asyncpg.create_pool(self.dsn, min_size=self._min, max_size=self._max)

    async def executescript(self, script: str) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(script)

    async def execute(self, sql: str, *args: SqlValue) -> int:
        return _rowcount(await self._pool.execute(sql, *args))

    async def fetch(self, sql: str, *args: SqlValue) -> list[JsonObject]:
        return [dict(r) for r in await self._pool.fetch(sql, *args)]

    async def fetchrow(self, sql: str, *args: SqlValue) -> JsonObject | None:
        row = await self._pool.fetchrow(sql, *args)
        return dict(row) if row is not None else None

    async def executemany(self, sql: str, rows: Sequence[Sequence[SqlValue]]) -> None:
        await self._pool.executemany(sql, rows)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_PostgresTx]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield _PostgresTx(conn)

    async def run_unit(self, work: Work[T], order_key: str = "") -> T:
        """Run `work(conn)` in the next group-committed batch; its result once COMMIT is done."""
        return await self._group.submit(work, order_key)

    async def _run_batch(self, batch: list[Unit[Any]]) -> None:  # Any: each unit's own result
        """First without savepoints (each is two more round trips per unit); if any unit fails,
        the whole transaction is rolled back and the batch runs again with a savepoint each,
        so one unit's failure still undoes that unit alone."""
        import asyncpg

        retriable = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)
        outcomes: list[tuple[bool, Any]] | None = None  # Any: each unit's own result
        for attempt in range(4):
            try:
                outcomes = await self._try_batch(batch, savepoints=attempt > 0)
            except retriable:
                # Rolled back whole (a lock cycle with an operator's transaction): run it again.
                if attempt == 3:
                    raise
                continue
            if outcomes is not None:
                break
        assert outcomes is not None  # the savepoint runs always return their outcomes
        for unit, (ok, value) in zip(batch, outcomes, strict=True):
            unit.settle(ok, value)

    async def _try_batch(
        self, batch: list[Unit[Any]], savepoints: bool  # Any: each unit's own result
    ) -> list[tuple[bool, Any]] | None:  # Any: each unit's own result
        """The batch's outcomes, committed; None (rolled back) when a unit failed without
        savepoints."""
        import asyncpg

        outcomes: list[tuple[bool, Any]] = []  # Any: each unit's own result
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                tx = _PostgresTx(conn)
                for unit in batch:
                    if not savepoints:
                        try:
                            outcomes.append((True, await unit.work(tx)))
                        except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
                            raise
                        except Exception:
                            raise _UnitFailed() from None
                        continue
                    try:
                        async with conn.transaction():  # a savepoint
                            outcomes.append((True, await unit.work(tx)))
                    except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
                        raise
                    except Exception as exc:
                        outcomes.append((False, exc))
        except _UnitFailed:
            return None
        return outcomes

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


class _UnitFailed(Exception):
    """A unit failed in a batch run without savepoints: the batch runs again with them."""


class _PostgresTx:
    dialect = "postgresql"

    def __init__(self, conn: Any) -> None:  # Any: asyncpg (untyped)
        self._conn = conn

    async def execute(self, sql: str, *args: SqlValue) -> int:
        return _rowcount(await self._conn.execute(sql, *args))

    async def fetch(self, sql: str, *args: SqlValue) -> list[JsonObject]:
        return [dict(r) for r in await self._conn.fetch(sql, *args)]

    async def fetchrow(self, sql: str, *args: SqlValue) -> JsonObject | None:
        row = await self._conn.fetchrow(sql, *args)
        return dict(row) if row is not None else None

    async def executemany(self, sql: str, rows: Sequence[Sequence[SqlValue]]) -> None:
        await self._conn.executemany(sql, rows)


async def open_database(
    url: str | None, data_dir: Path, pool_size: int = 10
) -> SqliteDatabase | PostgresDatabase:
    """`postgresql://...` opens PostgreSQL; anything else SQLite at DATA/fleet.sqlite3."""
    db: SqliteDatabase | PostgresDatabase
    if url and url.startswith(("postgres://", "postgresql://")):
        db = PostgresDatabase(url, min_size=min(2, pool_size), max_size=pool_size)
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        db = SqliteDatabase(Path(url) if url else data_dir / "fleet.sqlite3")
    await db.open()
    return db
