"""What `audit verify` reads of the entitlements by ranges of `seq`, on a read-only connection of its own (its
worker processes) or on the ledger's (`paybonus.audit_rows`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .entitlements import TUPLE_COLUMNS

BUSY_TIMEOUT_S = 60.0  # as the ledger's own connection waits for a writer


def read_only(path: str | Path) -> sqlite3.Connection:
    """A read-only connection to the SQLite file (under WAL, readers in other processes run in parallel)."""
    return sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)


def _where(hi: int | None) -> str:
    return "seq >= ?" + ("" if hi is None else " AND seq < ?")


def _args(lo: int, hi: int | None) -> tuple[int, ...]:
    return (lo,) if hi is None else (lo, hi)


def tuples_in(conn: sqlite3.Connection, lo: int, hi: int | None) -> Iterable[tuple[Any, ...]]:
    """Rows with lo <= seq < hi (hi None: no end) as `Entitlements.tuples` gives them, in `seq` order."""
    return conn.execute(
        f"SELECT {', '.join(TUPLE_COLUMNS)} FROM entitlements WHERE {_where(hi)} ORDER BY seq", _args(lo, hi)
    )


def seq_bounds(conn: sqlite3.Connection) -> tuple[int, int, int]:
    """(rows, lowest seq, highest seq) of the entitlements."""
    n, lo, hi = conn.execute("SELECT COUNT(*), MIN(seq), MAX(seq) FROM entitlements").fetchone()
    return int(n), int(lo or 0), int(hi or 0)


def amounts_of_dispatch(conn: Any, company: str, event_id: str, scheme: str) -> dict[str, tuple[int, str]]:
    """id -> (amount_cents, digest) of what one dispatch recorded (`paybonus.replay` compares these: the whole
    rows of a 200 000-employee dispatch, twice, were gigabytes). Any ledger's connection, SQLite or PostgreSQL."""
    return {
        r[0]: (r[1], r[2])
        for r in conn.execute(
            "SELECT id, amount_cents, digest FROM entitlements WHERE event_id = ? AND scheme = ? AND company = ?",
            (event_id, scheme, company),
        )
    }


def findings_by_dispatch(conn: sqlite3.Connection) -> dict[tuple[str, str, str], list[list[Any]]]:
    """(company, event id, scheme) -> [level, rule, message, employee] of each of its findings, in the order they
    were written (`Dispatches.findings` of each dispatch, all read at once)."""
    found: dict[tuple[str, str, str], list[list[Any]]] = {}
    for company, event_id, scheme, *finding in conn.execute(
        "SELECT company, event_id, scheme, level, rule, message, employee FROM findings ORDER BY rowid"
    ):
        found.setdefault((company, event_id, scheme), []).append(finding)
    return found
