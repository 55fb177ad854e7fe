"""Deadlines as of a date, to the day: what falls due, what is overdue, the choice window, the Caisse des dépôts.

Golden cases for `paybonus.deadlines` and the windows of `paybonus.payments` (I-38, I-39, I-45): each boundary
is checked on both of its sides (mutation testing, docs/testing.md).
"""

import io
import json
from datetime import date

import pytest
import structlog
from helpers.companies import close_year, company, person, toml, world
from paybonus.deadlines import Item, _rule, check, scan
from paybonus.fixtures.pytest_plugin import EventFactory
from paybonus.params import Parameters

P = Parameters.default()
DUE = date(2026, 5, 31)  # exercise 2025 closed on 31 December: the last day of the 5th month after (I-39)


@pytest.fixture
def ledger_world(tmp_path):
    people = [person("A", 300_000), person("B", 300_000, end="2025-06-30")]
    bus, ledger = world(tmp_path, company(people, toml(distribution={"presence": "1"}, headcount=10)))
    close_year(bus, rcai=5_000)
    ents = {r["employee"]: r for r in ledger.entitlements.rows(scheme="interessement")}
    return bus, ledger, ents


def items(ledger, as_of, within=0, company=None):
    return sorted(scan(ledger, as_of, within, P, company), key=lambda i: (i.kind, i.employee))


def test_on_the_deadline_a_sum_is_due_the_day_after_it_is_overdue(ledger_world):  # I-39
    _, ledger, ents = ledger_world
    a, b = ents["A"], ents["B"]
    assert a["due_date"] == DUE.isoformat()
    assert items(ledger, DUE) == [
        Item("due", "ACME", a["id"], "A", "interessement", DUE, 0, a["amount_cents"]),
        Item("due", "ACME", b["id"], "B", "interessement", DUE, 0, b["amount_cents"]),
    ]
    assert items(ledger, date(2026, 6, 1)) == [
        Item("overdue", "ACME", a["id"], "A", "interessement", DUE, 1, a["amount_cents"]),
        Item("overdue", "ACME", b["id"], "B", "interessement", DUE, 1, b["amount_cents"]),
    ]


def test_within_counts_days_and_includes_its_last_day(ledger_world):
    _, ledger, _ = ledger_world
    assert [(i.kind, i.days) for i in items(ledger, date(2026, 5, 1), 30)] == [("due", 30), ("due", 30)]
    assert items(ledger, date(2026, 5, 1), 29) == []
    assert items(ledger, date(2026, 5, 1), 30, company="OTHER") == []
    assert len(items(ledger, date(2026, 5, 1), 30, company="ACME")) == 2


def test_the_choice_window_closes_15_days_after_the_statement(ledger_world):  # I-38
    bus, ledger, ents = ledger_world
    a = ents["A"]
    bus.publish(
        bus.host.event_types.from_dict(
            {
                "id": "st-a",
                "type": "statement_issued",
                "company": "ACME",
                "occurred_at": "2026-04-01T10:00:00+02:00",
                "payload": {"entitlement": a["id"], "issued_on": "2026-04-01"},
            }
        )
    )
    last = date(2026, 4, 16)
    window = Item("option_window", "ACME", a["id"], "A", "interessement", last, 0, a["amount_cents"])
    assert [i for i in items(ledger, last) if i.kind == "option_window"] == [window]
    assert [i for i in items(ledger, date(2026, 4, 17)) if i.kind == "option_window"] == []
    opening = [i for i in items(ledger, date(2026, 4, 1), 15) if i.kind == "option_window"]
    assert [(i.date, i.days) for i in opening] == [(last, 15)]
    assert [i for i in items(ledger, date(2026, 4, 1), 14) if i.kind == "option_window"] == []


def test_a_leavers_sum_goes_to_the_caisse_des_depots_the_day_after_one_year(ledger_world):  # I-45
    bus, ledger, ents = ledger_world
    bus.publish(EventFactory("ACME").employee_left("B", date(2025, 6, 30), forwarding_address="Lyon"))
    b = ents["B"]
    limit = date(2027, 5, 31)
    assert [i.kind for i in items(ledger, limit) if i.employee == "B"] == ["overdue"]
    cdc = [i for i in items(ledger, date(2027, 6, 1)) if i.kind == "cdc_transfer"]
    assert cdc == [Item("cdc_transfer", "ACME", b["id"], "B", "interessement", limit, 1, b["amount_cents"])]
    assert [i.kind for i in items(ledger, date(2027, 6, 1)) if i.employee == "A"] == ["overdue"]


@pytest.mark.parametrize(("back_on", "flagged"), [("2027-06-01", False), ("2027-06-02", True)])
def test_a_leaver_back_on_the_payroll_is_not_sent_to_the_caisse_des_depots(
    tmp_path, back_on, flagged
):  # I-45
    # B left on 30 June 2025 and was hired again: a sum still unpaid one year after its deadline is his to be paid,
    # not held for the Caisse des dépôts as an unreachable leaver's (it was flagged, and `deadlines --check`
    # recorded the notice); hired again only after the day looked at, he is still a leaver that day
    from attrs import evolve
    from paybonus.sources import store_company

    people = [person("A", 300_000), person("B", 300_000, end="2025-06-30")]
    data = company(people, toml(distribution={"presence": "1"}, headcount=10))
    bus, ledger = world(tmp_path, data)
    close_year(bus, rcai=5_000)
    bus.publish(EventFactory("ACME").employee_left("B", date(2025, 6, 30), forwarding_address="Lyon"))
    store_company(ledger, evolve(data, contracts=[*data.contracts, ("B", back_on, None, "", "", "")]))
    cdc = [i.employee for i in items(ledger, date(2027, 6, 1)) if i.kind == "cdc_transfer"]
    assert cdc == (["B"] if flagged else [])
    assert "overdue" in [i.kind for i in items(ledger, date(2027, 6, 1)) if i.employee == "B"]


def test_check_logs_each_notice_under_its_own_name_and_rule_with_the_time_in_utc(ledger_world):
    bus, ledger, _ = ledger_world
    bus.publish(EventFactory("ACME").employee_left("B", date(2025, 6, 30), forwarding_address="Lyon"))
    saved = structlog.get_config()
    stream = io.StringIO()
    from paybonus.logs import configure

    configure("json", "warning", stream=stream)
    try:
        assert check(ledger, DUE, P) == []  # due that day, not overdue
        noticed = check(ledger, date(2027, 6, 1), P)
    finally:
        structlog.configure(**saved)
    assert sorted((i.kind, i.employee) for i in noticed) == [
        ("cdc_transfer", "B"),
        ("overdue", "A"),
        ("overdue", "B"),
    ]
    logs = sorted(
        (e["event"], e["rule"], e["employee"], e["days"])
        for e in map(json.loads, stream.getvalue().splitlines())
    )
    assert logs == [
        ("deadline.cdc_transfer_due", "I-45", "B", 1),
        ("deadline.overdue", "I-39", "A", 366),
        ("deadline.overdue", "I-39", "B", 366),
    ]
    rows = ledger.conn.execute("SELECT noticed_on, recorded_at FROM deadline_notices").fetchall()
    assert {r[0] for r in rows} == {"2027-06-01"}
    assert all(r[1].endswith("+00:00") for r in rows)


@pytest.mark.parametrize(
    ("kind", "scheme", "rule"),
    [
        ("cdc_transfer", "interessement", "I-45"),
        ("overdue", "interessement", "I-39"),
        ("overdue", "interessement_projet", "I-39"),
        ("overdue", "prime_objectif", "O-1"),
        ("overdue", "pmt", "O-1"),
    ],
)
def test_the_rule_a_deadline_notice_cites(kind, scheme, rule):
    assert _rule(Item(kind, "C", "E", "e", scheme, DUE, 1, 1)) == rule


def test_check_of_one_company_notices_only_its_sums(tmp_path):
    # the daily job per company (`deadlines --check --company`) noticed every company's sums, and an unknown company
    # recorded them all (re-check of the red team, 2026-12-01)
    from helpers.cli import run
    from paybonus import Paybonus, load_plugins
    from paybonus.bench import synthetic_companies
    from paybonus.sources import store_company

    made = list(synthetic_companies(30, 2, 1))
    with Paybonus.create(tmp_path / "l.db", host=load_plugins(entry_points=False)) as app:
        for c in made:
            store_company(app.ledger, c.data)
        events = sorted((e for c in made for e in c.events), key=lambda e: e["occurred_at"])
        app.publish([(f"event {i}", app.host.event_types.from_dict(e)) for i, e in enumerate(events)])
        day = date(2027, 12, 1)
        everyone = app.deadlines(day, 0)
        assert "overdue" in {i.kind for i in everyone}
        for c in ("C0000", "C0001"):  # one company's leavers, notices and nets: its items of everyone's
            assert app.deadlines(day, 0, c) == [i for i in everyone if i.company == c]
        mine = app.check_deadlines(day, "C0000")
        assert mine and {i.company for i in mine} == {"C0000"}
        assert {(i.kind, i.entitlement) for i in mine} == {
            (i.kind, i.entitlement) for i in everyone if i.company == "C0000" and i.kind != "due"
        }
        assert app.check_deadlines(day, "C0000") == []  # noticed once: its notices are found by their rows
        assert {
            n[0]
            for n in app.ledger.conn.execute(
                "SELECT e.company FROM deadline_notices n JOIN entitlements e ON e.id = n.entitlement"
            )
        } == {"C0000"}
    r = run(
        "--db",
        str(tmp_path / "l.db"),
        "deadlines",
        "--check",
        "--company",
        "NOPE",
        "--as-of",
        "2027-12-01",
        cwd=tmp_path,
    )
    assert r.returncode == 2 and "NOPE" in r.stderr and r.stderr.count("\n") == 1
    with Paybonus.open(tmp_path / "l.db") as app:
        assert {
            n[0]
            for n in app.ledger.conn.execute(
                "SELECT e.company FROM deadline_notices n JOIN entitlements e ON e.id = n.entitlement"
            )
        } == {"C0000"}
        others = app.check_deadlines(date(2027, 12, 1), "C0001")
        assert others and {i.company for i in others} == {"C0001"}
        assert app.check_deadlines(date(2027, 12, 1)) == []  # every company's noticed, each once
