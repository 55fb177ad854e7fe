"""Payments of entitlements (append-only), and the deadline notices the daily check has given (once each)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

from attrs import frozen

from .sql import each_in, select


@frozen
class PaymentRecord:
    """A payment as stored: part of an entitlement paid out or placed in a savings plan."""

    entitlement: str
    amount_cents: int
    paid_on: str
    mode: str


class Payments:
    """The payments and deadline_notices tables."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def insert(self, event_id: str, company: str, p: PaymentRecord, at: str) -> None:
        self.conn.execute(
            "INSERT INTO payments (event_id, entitlement, company, amount_cents, paid_on, mode, recorded_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (event_id, p.entitlement, company, p.amount_cents, p.paid_on, p.mode, at),
        )

    def paid_cents(self, entitlement_id: str) -> int:
        row = self.conn.execute(
            "SELECT COALESCE(SUM(amount_cents), 0) FROM payments WHERE entitlement = ?", (entitlement_id,)
        ).fetchone()
        return int(row[0])

    def paid_by_mode(self, entitlement_id: str) -> dict[str, int]:
        return {
            r[0]: int(r[1])
            for r in self.conn.execute(
                "SELECT mode, SUM(amount_cents) FROM payments WHERE entitlement = ? GROUP BY mode",
                (entitlement_id,),
            )
        }

    def by_mode_of(self, ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """`paid_by_mode` of each of `ids` that has payments, in a query per 500 ids."""
        out: dict[str, dict[str, int]] = {}
        sql = "SELECT entitlement, mode, SUM(amount_cents) FROM payments WHERE entitlement IN ({marks}) GROUP BY 1, 2"
        for ent, mode, cents in each_in(self.conn, sql, ids):
            out.setdefault(ent, {})[mode] = int(cents)
        return out

    def of(self, entitlement_id: str) -> list[sqlite3.Row]:
        return select(
            self.conn, "SELECT * FROM payments WHERE entitlement = ? ORDER BY seq", [entitlement_id]
        )

    def all(self) -> list[sqlite3.Row]:
        return select(self.conn, "SELECT * FROM payments ORDER BY seq")

    def totals_by_mode(self) -> dict[str, dict[str, int]]:
        """entitlement -> mode -> cents, over every payment."""
        out: dict[str, dict[str, int]] = {}
        for ent, mode, amount in self.conn.execute(
            "SELECT entitlement, mode, SUM(amount_cents) FROM payments GROUP BY 1, 2"
        ):
            out.setdefault(ent, {})[mode] = int(amount)
        return out

    def notices(self) -> list[tuple[str, str, str]]:
        """(entitlement, kind, noticed_on) of every deadline notice given."""
        return [
            tuple(r) for r in self.conn.execute("SELECT entitlement, kind, noticed_on FROM deadline_notices")
        ]

    def notices_given(self, entitlements: Sequence[str]) -> set[tuple[str, str]]:
        """(entitlement, kind) of the deadline notices already given about `entitlements` (in a query per 500: a
        company's daily check does not read every company's notices)."""
        sql = "SELECT entitlement, kind FROM deadline_notices WHERE entitlement IN ({marks})"
        return {(r[0], r[1]) for r in each_in(self.conn, sql, entitlements)}

    def add_notices(self, notices: Iterable[tuple[str, str, str]], at: str) -> None:
        """(entitlement, kind, noticed_on) rows, inside the caller's transaction."""
        self.conn.executemany(
            "INSERT INTO deadline_notices (entitlement, kind, noticed_on, recorded_at) VALUES (?, ?, ?, ?)",
            ((e, k, on, at) for e, k, on in notices),
        )


def status_of(amount_cents: int, paid_by_mode: dict[str, int]) -> str:
    """An entitlement's status from its payments: due, partly_paid, then paid, placed or paid_and_placed."""
    paid = sum(paid_by_mode.values())
    if paid == 0:
        return "due"
    if paid < amount_cents:
        return "partly_paid"
    modes = {"paid" if m == "paid" else "placed" for m, cents in paid_by_mode.items() if cents}  # PEE or PER
    return "paid_and_placed" if len(modes) > 1 else next(iter(modes))
