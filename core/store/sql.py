"""Small helpers shared by the repositories."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any


def select(conn: sqlite3.Connection, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
    """Rows addressable by column name."""
    cur = conn.cursor()
    cur.row_factory = sqlite3.Row
    return cur.execute(sql, args).fetchall()


def chunks(items: Sequence[Any], size: int = 500) -> list[Sequence[Any]]:
    """`items` in slices small enough for an IN (...) list."""
    return [items[i : i + size] for i in range(0, len(items), size)]
