"""Server counters (heartbeats taken, kiosk requests refused by reason) summed over every process.

Each process counts in memory and adds what it counted to the database every few seconds, so
`/metrics` scraped through the load balancer from any worker shows the whole fleet server's
figures, not one worker's. A counter only grows (Prometheus counter semantics); a crash loses at
most the last few seconds' increments.
"""

from __future__ import annotations

from collections import Counter

from fleet.db import Database


class ServerCounters:
    """This process's counts not yet added to the shared table."""

    def __init__(self) -> None:
        self._pending: Counter[tuple[str, str]] = Counter()

    def add(self, name: str, label: str = "", n: int = 1) -> None:
        self._pending[(name, label)] += n

    async def flush(self, db: Database) -> None:
        """Add the pending counts to the shared table; kept for the next flush if that fails."""
        pending, self._pending = self._pending, Counter()
        if not pending:
            return
        try:
            await db.executemany(
                "INSERT INTO server_counters (name, label, value) VALUES ($1, $2, $3)"
                " ON CONFLICT (name, label)"
                " DO UPDATE SET value = server_counters.value + excluded.value",
                [(name, label, n) for (name, label), n in sorted(pending.items())],
            )
        except BaseException:
            self._pending.update(pending)
            raise


async def read_counters(db: Database) -> dict[str, dict[str, int]]:
    """Every process's counts, summed: name -> label -> value."""
    out: dict[str, dict[str, int]] = {}
    for r in await db.fetch("SELECT name, label, value FROM server_counters"):
        out.setdefault(r["name"], {})[r["label"]] = int(r["value"])
    return out
