"""A payroll load's parts are its rows in one order, whatever way they are sorted: the digests a load recorded
(and `audit verify` re-derives from the tables) depend on it. `parts_of` sorts a month's pay lines by the employee
when that is the same order; this checks it against the plain sort of every column (NULLs first) it replaced."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from paybonus.store.companies import ABSENCES, CONTRACTS, PAY, parts_of


def reference(pay_lines: list[tuple[Any, ...]]) -> dict[str, list[list[Any]]]:
    """The former `parts_of` for pay lines: one sort of every row by every column, then split by month."""
    key = lambda row: tuple((v is not None, v) for v in row)  # noqa: E731
    parts: dict[str, list[list[Any]]] = {}
    for r in sorted((list(r) for r in pay_lines), key=key):
        parts.setdefault(PAY + r[1][:7], []).append(r)
    return parts


employees = st.one_of(st.none(), st.sampled_from(["E1", "E10", "E2", "e1", "É1", "E1 ", ""]))
months = st.sampled_from(["2025-01", "2025-02", "2025-01-01", "2026-12"])
lines = st.tuples(
    employees, months, st.integers(-5, 5), st.one_of(st.none(), st.sampled_from(["151.67", "0"]))
)


@given(st.lists(lines, max_size=40), st.booleans())
def test_a_month_sorted_by_employee_is_the_order_of_every_column(rows, unique):
    if unique:  # the usual load: one line per person and month (the table's key), ids as text
        seen: set[tuple[Any, Any]] = set()
        rows = [
            r
            for r in rows
            if r[0] is not None and (r[0], r[1][:7]) not in seen and not seen.add((r[0], r[1][:7]))
        ]
    parts = parts_of([], rows, [])
    assert parts.pop(CONTRACTS) == [] and parts.pop(ABSENCES) == []
    assert {name: [list(r) for r in part] for name, part in parts.items()} == reference(rows)


def test_pay_lines_are_written_person_by_person_each_ones_months_in_order(tmp_path):
    """The population read finds a person's months in consecutive rows (`pay_block`): the lines are written sorted
    by employee, then month (two stable sorts by one column each), whatever order they were given in."""
    import random

    from paybonus.store import Ledger

    people, months = [f"E{i}" for i in (3, 1, 20, 2)], [f"2025-{m:02d}-01" for m in (3, 1, 12, 2)]
    lines = [(e, m, 100, 100, "151.67", "0", 0, None, 0, None) for e in people for m in months]
    random.Random(7).shuffle(lines)
    ledger = Ledger.create(tmp_path / "l.db")
    ledger.store_company("ACME", "Acme", "", [], lines, [], "2026-01-01T00:00:00Z")
    written = ledger.conn.execute("SELECT employee, month FROM pay_lines ORDER BY rowid").fetchall()
    assert [tuple(r) for r in written] == sorted((e, m) for e in people for m in months)
    ledger.close()
