"""Deadlines: what falls due, what is overdue, choice windows closing, sums to hand to the Caisse des dépôts.

`scan` lists them as of a date. `check` is the daily job: it logs a structured warning for each entitlement that
has just become overdue (I-39) and for each leaver's sum unclaimed one year after its deadline (I-45), records
the notice (once), and returns what it noticed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import islice

from attrs import frozen

from . import logs
from .calendar import add_months
from .params import Parameters
from .payments import window_of
from .store import Ledger

log = logs.get_logger("paybonus.deadlines")
CHUNK_ROWS = 1_000  # open rows whose choice windows are read together


@frozen
class Item:
    kind: str  # overdue | due | option_window | cdc_transfer
    company: str
    entitlement: str
    employee: str
    scheme: str
    date: date
    days: int  # days overdue (overdue, cdc_transfer) or days left (due, option_window)
    outstanding_cents: int


def scan(
    ledger: Ledger, as_of: date, within_days: int, params: Parameters, company: str | None = None
) -> list[Item]:
    """What is overdue, falls due within `within_days`, choice windows closing, Caisse des dépôts transfers, as of
    `as_of` (of one company, or of all): `each`, as a list."""
    with ledger.one_view():
        return list(each(ledger, as_of, within_days, params, company))


def each(
    ledger: Ledger, as_of: date, within_days: int, params: Parameters, company: str | None = None
) -> Iterator[Item]:
    """`scan`'s items as they are read, by company, date, employee and recording order (a large employer's
    hundreds of thousands are never held at once): the open rows streamed, their choice windows read for each
    `CHUNK_ROWS` of them. The caller holds one view of the ledger for the whole read (`Ledger.one_view`)."""
    horizon = as_of + timedelta(days=within_days)
    leavers = _gone(ledger, as_of, company)
    chosen = ledger.events.entitlements_with("option_chosen", company)
    cdc_years = params.value("cdc_transfer_after_years", as_of)
    rows = ledger.entitlements.open_with_due_date(company)
    while chunk := list(islice(rows, CHUNK_ROWS)):
        windows = _windows(ledger, [r[0] for r in chunk if r[6] == "epargne_salariale"], params)
        for eid, comp, emp, scheme, due_s, left, regime, _ in chunk:
            due = date.fromisoformat(due_s)
            if due < as_of:
                yield Item("overdue", comp, eid, emp, scheme, due, (as_of - due).days, left)
                limit = add_months(due, 12 * cdc_years)  # 29 Feb + 1 year = 28 Feb
                if regime == "epargne_salariale" and (comp, emp) in leavers and as_of > limit:
                    yield Item("cdc_transfer", comp, eid, emp, scheme, limit, (as_of - limit).days, left)
            elif due <= horizon:
                yield Item("due", comp, eid, emp, scheme, due, (due - as_of).days, left)
            if regime == "epargne_salariale":
                window = windows.get(eid)
                if window and as_of <= window[1] <= horizon and eid not in chosen:
                    yield Item(
                        "option_window", comp, eid, emp, scheme, window[1], (window[1] - as_of).days, left
                    )


def _windows(ledger: Ledger, ids: list[str], params: Parameters) -> dict[str, tuple[date, date]]:
    """`payments.option_window` of each of `ids` whose statement was issued, read in a query per 500 (one a row
    was a round trip each to a PostgreSQL ledger)."""
    issued = ledger.events.payloads_about(ids, "statement_issued")
    return {eid: window for eid, texts in issued.items() if (window := window_of(texts, params))}


def _gone(ledger: Ledger, as_of: date, company: str | None = None) -> set[tuple[str, str]]:
    """(company, employee) of the leavers not back by `as_of` (`left_on`), of one company or of all."""
    return set(left_on(ledger, as_of, company))


def left_on(ledger: Ledger, as_of: date, company: str | None = None) -> dict[tuple[str, str], date]:
    """The day each leaver not back by `as_of` left, as true on `as_of`, by (company, employee) (of one company, or
    of all): someone who left, then came back under a new contract with the company, is on its payroll again and
    reachable; his sums are paid to him, not held for the Caisse des dépôts (I-45), and his statement does not say
    he left (I-44). Hired again under a contract that ended by `as_of`, he left at its end, whether or not its
    employee_left is in the ledger yet."""
    last: dict[tuple[str, str], str] = {}
    for row in ledger.events.by_type("employee_left", company):
        try:
            left = str(json.loads(row["payload"])["left_on"])
        except (ValueError, KeyError, TypeError):  # reported by `audit verify`; a leaver not back here
            left = "9999-12-31"
        key = (row["company"], row["employee"])
        last[key] = max(last.get(key, left), left)
    gone = dict(last)
    on = as_of.isoformat()
    for comp in {c for c, _ in last}:
        since = min(left for (c, _), left in last.items() if c == comp)
        for emp, start, end, *_, group in ledger.companies.contracts_during(comp, since, on):
            key = (comp, emp)
            # a contract with another company of the group, or begun before his last departure or after `as_of`,
            # does not bring him back
            if group or key not in gone or start <= last[key] or start > on:
                continue
            if end is None or end >= on:  # back: under a contract begun after his last departure
                del gone[key]
            else:  # a contract ended since, whose employee_left is not in the ledger yet: a leaver again
                gone[key] = max(gone[key], end)
    return {key: _day(left) for key, left in gone.items()}


def _day(text: str) -> date:
    """A stored departure date; one that does not parse (a ledger edited by hand, reported by `audit verify`) is
    still a departure (the leaver stays gone, as `_gone` always held him), on no day a date of issue reaches."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        return date.max


def check(ledger: Ledger, as_of: date, params: Parameters, company: str | None = None) -> list[Item]:
    """Notice, once, what has become overdue or due for transfer to the Caisse des dépôts (of one company, or of
    all); log and record it."""
    items = [i for i in scan(ledger, as_of, 0, params, company) if i.kind in ("overdue", "cdc_transfer")]
    done = ledger.payments.notices_given(sorted({i.entitlement for i in items}))
    new = [i for i in items if (i.entitlement, i.kind) not in done]
    if not new:
        return []
    ledger.record_notices(
        [(i.company, i.entitlement, i.kind, as_of.isoformat()) for i in new], datetime.now(UTC).isoformat()
    )
    for i in new:
        name = "deadline.overdue" if i.kind == "overdue" else "deadline.cdc_transfer_due"
        log.warning(
            name,
            entitlement=i.entitlement,
            company=i.company,
            employee=i.employee,
            scheme=i.scheme,
            due_date=i.date.isoformat(),
            days=i.days,
            rule=_rule(i),
        )
    return new


def _rule(i: Item) -> str:
    """The basis of the deadline: I-45 (Caisse des dépôts), I-39 (intéressement), or the payroll month (O-1)."""
    if i.kind == "cdc_transfer":
        return "I-45"
    return "I-39" if i.scheme.startswith("interessement") else "O-1"
