"""The export's `allocation` of a right the recorded payments paid or placed in full says what they did, as its
statement does (I-38, `payments.settled`): a right paid out before its statement, exported once the window
closed with no answer, read `placed` (the default) next to its status `paid` (review of the statements' fix,
December 2026)."""

from datetime import date

import pytest
from helpers.companies import close_year, company, person, toml, world
from paybonus.export import rows
from paybonus.params import Parameters

P = Parameters.default()


def ev(bus, type_, payload, id):
    return bus.host.event_types.from_dict(
        {
            "id": id,
            "type": type_,
            "company": "ACME",
            "occurred_at": "2023-04-20T10:00:00+02:00",
            "payload": payload,
        }
    )


def _principal(tmp_path, plan=True):
    """A 2022 principal (due 31 May 2023) of a company with (or without) a PEE, and a company PER."""
    text = toml(starts_on="2010-01-01", per=True)
    if not plan:
        text = text.replace("has_savings_plan = true", "has_savings_plan = false")
    bus, ledger = world(tmp_path, company([person("A", 300_000)], text, year=2022))
    close_year(bus, year=2022, rcai=1_000)
    principal = ledger.entitlements.rows(scheme="interessement")[0]
    return bus, ledger, principal["id"], principal["amount_cents"]


def _pay(bus, pid, parts, paid_on="2023-03-15"):
    for i, (mode, cents) in enumerate(parts):
        payload = {"entitlement": pid, "amount_cents": cents, "paid_on": paid_on, "mode": mode}
        bus.publish(ev(bus, "payment_recorded", payload, f"pay-{i}"))


def _issue(bus, pid):  # the window runs until 16 April
    bus.publish(ev(bus, "statement_issued", {"entitlement": pid, "issued_on": "2023-04-01"}, "st"))


def _row(ledger, pid, as_of):
    [row] = [r for r in rows(ledger, P, as_of) if r["entitlement"] == pid]
    return row["status"], row["allocation"]


@pytest.mark.parametrize(
    ("plan", "parts", "status", "allocation"),
    [
        (True, [("paid", None)], "paid", "paid"),  # the default was `placed`
        (True, [("paid", 1_000), ("placed", None)], "paid_and_placed", "split"),
        (True, [("paid", 1_000), ("placed_per", None)], "paid_and_placed", "split"),
        (False, [("placed_per", None)], "placed", "placed"),  # the default was `paid`
    ],
)
def test_a_right_settled_by_payments_before_its_statement_is_exported_as_they_settled_it(
    tmp_path, plan, parts, status, allocation
):
    bus, ledger, pid, amount = _principal(tmp_path, plan)
    rest = amount - sum(c for _, c in parts if c is not None)
    _pay(bus, pid, [(m, rest if c is None else c) for m, c in parts])
    _issue(bus, pid)
    assert _row(ledger, pid, date(2023, 5, 1)) == (status, allocation)  # window closed, no answer
    assert _row(ledger, pid, date(2023, 4, 10)) == (status, allocation)  # nothing is left to choose


def test_the_default_stands_where_the_payments_followed_it_or_left_something_due(tmp_path):
    bus, ledger, pid, amount = _principal(tmp_path)
    _issue(bus, pid)
    assert _row(ledger, pid, date(2023, 4, 10)) == ("due", "pending")
    _pay(bus, pid, [("paid", 1_000)], paid_on="2023-04-05")  # in the window, part of it
    assert _row(ledger, pid, date(2023, 4, 10)) == ("partly_paid", "pending")
    assert _row(ledger, pid, date(2023, 5, 1)) == ("partly_paid", "placed")  # the rest is placed by default
    bus.publish(
        ev(
            bus,
            "payment_recorded",
            {"entitlement": pid, "amount_cents": amount - 1_000, "paid_on": "2023-04-20", "mode": "placed"},
            "pay-rest",
        )
    )
    assert _row(ledger, pid, date(2023, 5, 1)) == ("paid_and_placed", "split")
