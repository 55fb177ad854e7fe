"""The export's `allocation` of a right the recorded payments paid or placed in full says what they did, as its
statement does (I-38, `payments.settled`): a right paid out before its statement, exported once the window
closed with no answer, read `placed` (the default) next to its status `paid` (review of the statements' fix,
December 2026)."""

from datetime import date

import pytest
from helpers.companies import principal_2022 as _principal
from paybonus.errors import UserError
from paybonus.export import rows
from paybonus.params import Parameters

P = Parameters.default()


def ev(bus, type_, payload, id, at="2023-04-20T10:00:00+02:00"):
    return bus.host.event_types.from_dict(
        {
            "id": id,
            "type": type_,
            "company": "ACME",
            "occurred_at": at,
            "payload": payload,
        }
    )


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


def test_the_interest_of_a_principal_paid_out_by_payments_follows_it_in_the_export_and_may_be_paid_out(
    tmp_path,
):
    # a 2022 principal (due 31 May 2023) paid out in full, late, on 15 June, before its statement (20 June: the
    # window runs until 5 July); its late interest, a row of its own, is still due. I-40: interest is paid with
    # its principal: it read the principal's default (`placed`) next to the principal's `paid`, and paying it out
    # after the window was refused ("the sum is placed in the savings plan, not paid out")
    bus, ledger, pid, amount = _principal(tmp_path)
    june = "2023-06-20T10:00:00+02:00"
    payload = {"entitlement": pid, "amount_cents": amount, "paid_on": "2023-06-15", "mode": "paid"}
    bus.publish(ev(bus, "payment_recorded", payload, "pay", june))
    bus.publish(ev(bus, "statement_issued", {"entitlement": pid, "issued_on": "2023-06-20"}, "st", june))
    [interest] = [r for r in ledger.entitlements.rows(scheme="interessement") if r["kind"] == "interest"]
    assert _row(ledger, pid, date(2023, 7, 10)) == ("paid", "paid")
    assert _row(ledger, interest["id"], date(2023, 7, 10)) == ("due", "paid")
    payload = {
        "entitlement": interest["id"],
        "amount_cents": interest["amount_cents"],
        "paid_on": "2023-07-10",
    }
    bus.publish(
        ev(bus, "payment_recorded", {**payload, "mode": "paid"}, "pay-i", "2023-07-10T10:00:00+02:00")
    )
    assert _row(ledger, interest["id"], date(2023, 7, 10)) == ("paid", "paid")


def test_the_interest_of_a_principal_placed_by_default_is_still_placed(tmp_path):
    # nothing paid the principal out: its default after the window binds its interest (I-38, I-40)
    bus, ledger, pid, amount = _principal(tmp_path)
    june = "2023-06-20T10:00:00+02:00"
    bus.publish(ev(bus, "statement_issued", {"entitlement": pid, "issued_on": "2023-06-01"}, "st", june))
    payload = {"entitlement": pid, "amount_cents": amount, "paid_on": "2023-06-20", "mode": "placed"}
    bus.publish(ev(bus, "payment_recorded", payload, "pay", june))
    [interest] = [r for r in ledger.entitlements.rows(scheme="interessement") if r["kind"] == "interest"]
    assert _row(ledger, interest["id"], date(2023, 7, 10)) == ("due", "placed")
    payload = {
        "entitlement": interest["id"],
        "amount_cents": interest["amount_cents"],
        "paid_on": "2023-07-10",
    }
    with pytest.raises(UserError, match="not paid out"):
        bus.publish(
            ev(bus, "payment_recorded", {**payload, "mode": "paid"}, "pay-i", "2023-07-10T10:00:00+02:00")
        )
