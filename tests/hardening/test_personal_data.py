"""Issue 13, "Personal data": error lines and stored failures hold counts, ids, rule ids and field names, never a
salary, an amount due or a NIR."""

from __future__ import annotations

import json

import pytest
from helpers.hostile import attempt, cli
from paybonus.logs import redact_text


@pytest.mark.parametrize("value", ["2350,40", "-2350.40", "2350.404", "2 350.40"])
def test_a_bad_salary_in_a_payroll_file_is_not_echoed(work, value):
    f = work.company / "payroll" / "2025-03.csv"
    rows = f.read_text().splitlines()
    cells = rows[1].split(",")
    cells[1] = f'"{value}"'
    rows[1] = ",".join(cells)
    f.write_text("\n".join(rows) + "\n")
    line = attempt(f"salary {value!r}", work.fresh, "load", str(work.company))
    assert "2025-03.csv:2" in line and "gross" in line
    assert "2350" not in line and "2 350" not in line


def test_an_overpayment_does_not_echo_the_amount_due(work):
    _code, out, _ = cli("--db", str(work.db), "entitlements", "--company", "DURAND", "--format", "json")
    ent = next(e for e in json.loads(out) if e["amount_cents"] > 1000)
    e = {
        "id": "DURAND-pay-x",
        "type": "payment_recorded",
        "company": "DURAND",
        "occurred_at": "2026-02-05T18:00:00+01:00",
        "payload": {
            "entitlement": ent["id"],
            "amount_cents": ent["amount_cents"] + 1,
            "paid_on": "2026-02-01",
        },
    }
    line = attempt("overpayment", work.db, "publish", str(work.file("p.jsonl", json.dumps(e) + "\n")))
    assert str(ent["amount_cents"]) not in line and str(ent["amount_cents"] + 1) not in line
    assert "still due" in line


@pytest.mark.parametrize(
    ("text", "kept", "gone"),
    [
        ("NIR 1850578006048 earns 2350.40", ["NIR"], ["1850578006048", "2350.40"]),
        ("spouse_base 12000.00 above (11775.00", ["spouse_base"], ["12000", "11775"]),
        (
            "due 123456 cents on E0001 for 2025-01-01..2025-12-31",
            ["E0001", "2025-01-01..2025-12-31"],
            ["123456"],
        ),
        ("the TMOP of 2025-S2 is unknown", ["2025-S2"], []),
    ],
)
def test_redacted_text_keeps_ids_and_dates_and_drops_amounts(text, kept, gone):
    out = redact_text(text)
    assert all(k in out for k in kept) and not any(g in out for g in gone), out
