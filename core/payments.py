"""After the computation: payments, the employee's choice and statements, as the core records them.

`payment_recorded` pays (part of) an entitlement: the amount can never exceed what is still due, and the
entitlement's status moves from `due` to `partly_paid`, then `paid`, `placed` or `paid_and_placed`.
`statement_issued` records that the individual statement reached the employee, which opens the 15-day window of
the employee's choice (LAW I-37, I-38); `option_chosen` records the choice inside that window. With no answer,
the sums are placed when the company has a savings plan (PEE), otherwise paid.
"""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta
from typing import Any, Literal

from attrs import frozen

from . import audit
from .errors import UserError
from .events import Event
from .ledger import Ledger
from .params import Parameters

EPARGNE = "epargne_salariale"


@frozen
class StatementIssued:
    """The individual statement (fiche distincte) reached the employee: the choice window opens (I-37, I-38)."""

    entitlement: str
    issued_on: date
    channel: Literal["email", "post", "hand", "portal"] = "email"


@frozen
class OptionChosen:
    """The employee's answer: paid now, placed in the savings plan, or split (`placed_cents` placed)."""

    entitlement: str
    choice: Literal["paid", "placed", "split"]
    chosen_on: date
    placed_cents: int | None = None

    def __attrs_post_init__(self) -> None:
        if (self.choice == "split") != (self.placed_cents is not None):
            raise ValueError("placed_cents: give it for a split, and only then")
        if self.placed_cents is not None and self.placed_cents <= 0:
            raise ValueError("placed_cents: must be positive")


def outstanding(ledger: Ledger, entitlement_id: str) -> int:
    row = ledger.entitlement(entitlement_id)
    return 0 if row is None else int(row["amount_cents"]) - ledger.paid_cents(entitlement_id)


def check(ledger: Ledger, event: Event[Any], pending: dict[str, int], params: Parameters) -> None:
    """Refuse what cannot be recorded (ValueError, one line). `pending`: payments earlier in the same batch."""
    p = event.payload
    row = ledger.entitlement(p.entitlement)
    if row is None or row["company"] != event.company:
        raise ValueError(
            f"payload.entitlement: no entitlement {p.entitlement!r} for company {event.company!r}"
        )
    if event.type == "payment_recorded":
        if row["kind"] == "correction" and row["amount_cents"] < 0:
            raise ValueError("payload.entitlement: a negative correction is recovered, not paid")
        if p.mode == "placed" and row["social_regime"] != EPARGNE:
            raise ValueError("payload.mode: only intéressement-type sums can be placed in a savings plan")
        due = int(row["amount_cents"]) - ledger.paid_cents(p.entitlement) - pending.get(p.entitlement, 0)
        if p.amount_cents > due:
            raise ValueError(
                f"payload.amount_cents: {p.amount_cents} is more than the {max(due, 0)} cents still due"
            )
        pending[p.entitlement] = pending.get(p.entitlement, 0) + p.amount_cents
    elif event.type == "statement_issued":
        key = f"statement:{p.entitlement}"
        pending[key] = min(pending.get(key, p.issued_on.toordinal()), p.issued_on.toordinal())
    elif event.type == "option_chosen":
        if row["social_regime"] != EPARGNE:
            raise ValueError(
                "payload.entitlement: the choice to place applies to intéressement-type sums only"
            )
        if p.placed_cents is not None and p.placed_cents >= row["amount_cents"]:
            raise ValueError("payload.placed_cents: a split places less than the whole amount")
        window = option_window(ledger, p.entitlement, params)
        earlier = pending.get(f"statement:{p.entitlement}")
        if window is None and earlier is not None:  # issued earlier in the same batch
            window = _window(date.fromordinal(earlier), params)
        if window is None:
            raise ValueError(
                "payload.entitlement: no statement was issued yet, the choice window is not open"
            )
        if not window[0] <= p.chosen_on <= window[1]:
            raise ValueError(
                f"payload.chosen_on: {p.chosen_on} is outside the choice window {window[0]}..{window[1]} (I-38)"
            )


def record(conn: sqlite3.Connection, event: Event[Any], at: str) -> list[tuple[str, str, str]]:
    """Write what a core event changes, inside the event's transaction; returns extra audit entries."""
    if event.type != "payment_recorded":
        return []
    p = event.payload
    amount, paid = conn.execute(
        "SELECT amount_cents, (SELECT COALESCE(SUM(amount_cents), 0) FROM payments WHERE entitlement = ?) "
        "FROM entitlements WHERE id = ?",
        (p.entitlement, p.entitlement),
    ).fetchone()
    if p.amount_cents > amount - paid:  # checked again under the write lock: another publisher may have paid
        raise UserError(
            f"event {event.id}",
            f"payload.amount_cents: {p.amount_cents} is more than the {amount - paid} cents still due",
        )
    conn.execute(
        "INSERT INTO payments (event_id, entitlement, company, amount_cents, paid_on, mode, recorded_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (event.id, p.entitlement, event.company, p.amount_cents, p.paid_on.isoformat(), p.mode, at),
    )
    status = _status(conn, p.entitlement)
    conn.execute("UPDATE entitlements SET status = ? WHERE id = ?", (status, p.entitlement))
    return [("payment.recorded", p.entitlement, audit.digest_of({"event": event.id, "status": status}))]


def _status(conn: sqlite3.Connection, entitlement_id: str) -> str:
    amount = conn.execute("SELECT amount_cents FROM entitlements WHERE id = ?", (entitlement_id,)).fetchone()[
        0
    ]
    rows = conn.execute(
        "SELECT mode, SUM(amount_cents) FROM payments WHERE entitlement = ? GROUP BY mode", (entitlement_id,)
    ).fetchall()
    paid = sum(r[1] for r in rows)
    if paid == 0:
        return "due"
    if paid < amount:
        return "partly_paid"
    modes = {r[0] for r in rows}
    return "paid_and_placed" if len(modes) > 1 else modes.pop()


def option_window(ledger: Ledger, entitlement_id: str, params: Parameters) -> tuple[date, date] | None:
    """(first day, last day) of the employee's choice window, from the first statement issued (I-38)."""
    row = ledger.conn.execute(
        "SELECT MIN(json_extract(payload, '$.issued_on')) FROM events WHERE type = 'statement_issued' "
        "AND json_extract(payload, '$.entitlement') = ?",
        (entitlement_id,),
    ).fetchone()
    if not row or row[0] is None:
        return None
    return _window(date.fromisoformat(row[0]), params)


def _window(issued: date, params: Parameters) -> tuple[date, date]:
    return issued, issued + timedelta(days=params.value("option_window_days", issued))


def allocation(ledger: Ledger, entitlement_id: str, as_of: date, params: Parameters) -> dict[str, Any]:
    """What happens to the sum: the employee's choice, else the default once the window closed (I-38)."""
    row = ledger.conn.execute(
        "SELECT json_extract(payload, '$.choice'), json_extract(payload, '$.placed_cents') FROM events "
        "WHERE type = 'option_chosen' AND json_extract(payload, '$.entitlement') = ? ORDER BY seq DESC LIMIT 1",
        (entitlement_id,),
    ).fetchone()
    if row:
        return {"allocation": row[0], "placed_cents": row[1], "by": "choice"}
    window = option_window(ledger, entitlement_id, params)
    if window is None:
        return {"allocation": "pending", "by": "no statement issued yet"}
    if as_of <= window[1]:
        return {"allocation": "pending", "by": f"window open until {window[1]}"}
    ent = ledger.entitlement(entitlement_id)
    has_plan = _has_savings_plan(ledger, ent["company"]) if ent else False
    return {"allocation": "placed" if has_plan else "paid", "by": "default after the window (I-38)"}


def _has_savings_plan(ledger: Ledger, company: str) -> bool:
    import tomllib

    toml = ledger.company_toml(company)
    return bool(toml and tomllib.loads(toml).get("company", {}).get("has_savings_plan", False))
