"""The export reads each chunk of rows' payments, choices, statements and principals in a few queries, not a few
queries a row (34 s for 84 456 rows of a PostgreSQL ledger, a round trip each): the same rows whatever the chunk's
size, the same allocation as `payments.allocation` asks row by row (I-38, I-40), the same on PostgreSQL as on
SQLite, and a number of statements that does not grow with the rows."""

from __future__ import annotations

import json
from datetime import date

import pytest
from paybonus import Paybonus, export
from paybonus.fixtures import sample_dir
from paybonus.params import Parameters
from paybonus.payments import allocation

AS_OF = date(2026, 9, 1)


def _event(n, type_, payload, on):
    return {
        "id": f"X-{n:03d}",
        "type": type_,
        "company": "DURAND",
        "occurred_at": f"{on}T10:00:00+02:00",
        "payload": payload,
    }


def _after_the_close(app, path):
    """Statements, choices (placed, split, none) and payments, on time and late (late interest rows, some whose
    principal was split), on the sample's 30 intéressement rows; published from a JSON-lines file at `path`."""
    rights = [r for r in app.ledger.entitlements.rows() if r["scheme"] == "interessement"]
    events, n = [], 0

    def add(type_, payload, on):
        nonlocal n
        n += 1
        events.append(_event(n, type_, payload, on))

    for i, r in enumerate(rights):
        eid, amount, kind = r["id"], r["amount_cents"], i % 6
        if kind in (0, 1, 2, 5):
            add("statement_issued", {"entitlement": eid, "issued_on": "2026-04-01"}, "2026-04-01")
        if kind == 0:
            add(
                "option_chosen",
                {"entitlement": eid, "choice": "placed", "chosen_on": "2026-04-05"},
                "2026-04-05",
            )
            add("payment_recorded", _paid(eid, amount, "placed", "2026-04-20"), "2026-04-20")
        if kind == 1:
            third = amount // 3
            choice = {"entitlement": eid, "choice": "split", "placed_cents": third, "chosen_on": "2026-04-05"}
            add("option_chosen", choice, "2026-04-05")
            add("payment_recorded", _paid(eid, third, "placed", "2026-04-20"), "2026-04-20")
            add("payment_recorded", _paid(eid, amount - third, "paid", "2026-06-15"), "2026-06-15")  # late
        if kind == 2:  # no choice: placed by default once the window closed, paid late
            add("payment_recorded", _paid(eid, amount, "placed", "2026-06-20"), "2026-06-20")
        if kind == 3:  # no statement: paid out on time
            add("payment_recorded", _paid(eid, amount, "paid", "2026-05-10"), "2026-05-10")
        if kind == 4:  # partly paid, nothing issued
            add("payment_recorded", _paid(eid, amount // 2, "paid", "2026-05-10"), "2026-05-10")
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    app.publish(path)


def _paid(eid, cents, mode, on):
    return {"entitlement": eid, "amount_cents": cents, "paid_on": on, "mode": mode}


def _params(tmp_path):
    extra = tmp_path / "tmop.toml"
    extra.write_text(  # a fictitious test value, not a JO figure: the late payments of June 2026 owe interest
        '[tmop]\nunit = "rate"\nsource = "test value"\n'
        'values = [{ semester = "2025-S2", jo = 2026-02-10, from = 2026-02-11, value = "0.0300" }]\n'
    )
    return Parameters.default().with_file(extra)


def _ledger(app, tmp_path):
    app.load_company(sample_dir())
    app.publish(sample_dir() / "events.jsonl")
    _after_the_close(app, tmp_path / "after.jsonl")
    return app


@pytest.fixture(scope="module")
def lite(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("batched")
    with Paybonus.create(tmp / "l.db", params=_params(tmp)) as app:
        yield _ledger(app, tmp)


def test_the_scenario_has_what_the_chunks_must_gather(lite):
    kinds = {(r["kind"], r["status"]) for r in lite.ledger.entitlements.rows(scheme="interessement")}
    assert {
        ("interest", "due"),
        ("principal", "paid"),
        ("principal", "placed"),
        ("principal", "partly_paid"),
    } <= (kinds)
    allocations = {r["allocation"] for r in lite.export_rows(AS_OF)}
    assert {"placed", "split", "paid", "pending"} <= allocations


@pytest.mark.parametrize("size", [1, 2, 7])
def test_the_rows_are_the_same_whatever_the_chunk_s_size(lite, monkeypatch, size):
    whole = list(lite.export_rows(AS_OF))
    monkeypatch.setattr(export, "CHUNK_ROWS", size)
    assert list(lite.export_rows(AS_OF)) == whole  # with 1, an interest row's principal is never in its chunk


def test_each_row_s_allocation_is_the_one_payments_allocation_gives(lite):
    ledger, params = lite.ledger, lite.params
    seen = 0
    for row in lite.export_rows(AS_OF):
        if row["social_regime"] != "epargne_salariale" or row["kind"] != "principal":
            continue
        expected = allocation(ledger, row["entitlement"], AS_OF, params)
        paid = ledger.payments.paid_by_mode(row["entitlement"])
        if expected["by"] == "choice" or not paid or sum(paid.values()) < row["amount_cents"]:
            assert row["allocation"] == expected["allocation"], row["entitlement"]
            seen += 1
        assert row["paid_cents"] == ledger.payments.paid_cents(row["entitlement"])
    assert seen >= 10


def test_the_statements_an_export_runs_do_not_grow_with_its_rows(lite):
    statements: list[str] = []
    conn = lite.ledger.conn
    conn.set_trace_callback(statements.append)
    try:
        exported = list(lite.export_rows(AS_OF))
    finally:
        conn.set_trace_callback(None)
    interest = sum(1 for r in exported if r["kind"] == "interest")
    assert len(exported) == 116 and interest == 10
    # a few reads for the whole export, three for each chunk (payments, choices, statements) and its first rows'
    # shared explanations, parameters and configuration; only a late interest row, whose dispatch is its own
    # payment's, asks for that dispatch (and, split, that payment) apart. Row by row: 389 statements.
    assert len(statements) <= 12 + 2 * interest, statements


def test_the_export_of_a_postgresql_ledger_is_the_sqlite_one(lite, pg_url, tmp_path):
    with Paybonus.create(pg_url, params=_params(tmp_path)) as pg:
        _ledger(pg, tmp_path)
        assert list(pg.export_rows(AS_OF)) == list(lite.export_rows(AS_OF))
