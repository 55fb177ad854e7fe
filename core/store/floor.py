"""The benchmark's floor: what plain sqlite3 `executemany` takes to write the rows a publish wrote.

Tables of the same shape, WAL, one transaction, no paybonus code in between (docs/performance.md).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

FLOOR_TABLES = (
    "events",
    "entitlements",
    "shared_explanations",
    "audit_log",
    "dispatches",
    "findings",
    "payments",
)


def floor_seconds(source: sqlite3.Connection, folder: Path) -> float:
    """Seconds to write every row of FLOOR_TABLES of `source` into a fresh database in `folder`."""
    path = folder / "floor.db"
    target = sqlite3.connect(path, isolation_level=None)
    target.execute("PRAGMA journal_mode = WAL")
    batches = []
    for table in FLOOR_TABLES:
        cols = [r[1] for r in source.execute(f"PRAGMA table_info({table})")]
        target.execute(f"CREATE TABLE {table} ({', '.join(cols)})")
        rows = source.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall()
        batches.append((f"INSERT INTO {table} VALUES ({', '.join('?' for _ in cols)})", rows))
    t = time.perf_counter()
    target.execute("BEGIN")
    for sql, rows in batches:
        target.executemany(sql, rows)
    target.execute("COMMIT")
    elapsed = time.perf_counter() - t
    target.close()
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return elapsed
