"""Late interest goes where its principal goes (I-38, I-40): the export gives an interest row its principal's
allocation, so a payment of the interest contradicting the principal's choice (or, with no choice, its default
after the window) made the ledger contradict itself — status `paid`, allocation `placed` — the very thing the
payment rules refuse for the principal (review, December 2026)."""

from datetime import date

import pytest
from helpers.companies import close_year, company, person, toml, world
from paybonus.errors import UserError
from paybonus.export import rows
from paybonus.params import Parameters

P = Parameters.default()


def ev(bus, type_, payload, id):
    return bus.host.event_types.from_dict(
        {
            "id": id,
            "type": type_,
            "company": "ACME",
            "occurred_at": "2023-07-20T10:00:00+02:00",
            "payload": payload,
        }
    )


def _pay(bus, entitlement, cents, mode, id):
    payload = {"entitlement": entitlement, "amount_cents": cents, "paid_on": "2023-07-15", "mode": mode}
    bus.publish(ev(bus, "payment_recorded", payload, id))


def _late(tmp_path, choice=None, placed_cents=None):
    """A 2022 principal (due 31 May 2023) whose statement was issued; the employee's `choice` (None: none); the
    principal paid late as chosen (placed by default): an interest entitlement."""
    data = company([person("A", 300_000)], toml(starts_on="2010-01-01"), year=2022)
    bus, ledger = world(tmp_path, data)
    close_year(bus, year=2022, rcai=1_000)
    principal = ledger.entitlements.rows(scheme="interessement")[0]
    pid, amount = principal["id"], principal["amount_cents"]
    bus.publish(ev(bus, "statement_issued", {"entitlement": pid, "issued_on": "2023-04-01"}, "st"))
    if choice is not None:
        payload = {"entitlement": pid, "choice": choice, "chosen_on": "2023-04-05"}
        if placed_cents is not None:
            payload["placed_cents"] = placed_cents
        bus.publish(ev(bus, "option_chosen", payload, "ch"))
    if choice == "split":
        _pay(bus, pid, placed_cents, "placed", "pay-placed")
        _pay(bus, pid, amount - placed_cents, "paid", "pay-paid")
    else:
        _pay(bus, pid, amount, "paid" if choice == "paid" else "placed", "pay")
    interest = [r for r in ledger.entitlements.rows() if r["kind"] == "interest"]  # one a late payment
    return bus, ledger, interest[0]


@pytest.mark.parametrize(
    ("choice", "wrong", "right"), [("placed", "paid", "placed"), ("paid", "placed", "paid")]
)
def test_interest_is_paid_as_the_employee_chose_for_its_principal(tmp_path, choice, wrong, right):
    bus, ledger, interest = _late(tmp_path, choice)
    with pytest.raises(UserError, match=rf"payload.mode: the employee chose '{choice}'"):
        _pay(bus, interest["id"], interest["amount_cents"], wrong, "pay-i-wrong")
    assert ledger.payments.paid_by_mode(interest["id"]) == {}
    _pay(bus, interest["id"], interest["amount_cents"], right, "pay-i")
    [row] = [r for r in rows(ledger, P, date(2023, 8, 1)) if r["entitlement"] == interest["id"]]
    assert (row["status"], row["allocation"]) == (right, right)


def test_with_no_choice_the_interest_is_placed_like_its_principal(tmp_path):
    bus, ledger, interest = _late(tmp_path)
    with pytest.raises(UserError, match=r"no choice was recorded by the end of the window \(2023-04-16\)"):
        _pay(bus, interest["id"], interest["amount_cents"], "paid", "pay-i-wrong")
    _pay(bus, interest["id"], interest["amount_cents"], "placed", "pay-i")
    assert ledger.payments.paid_by_mode(interest["id"]) == {"placed": interest["amount_cents"]}


def test_a_split_leaves_the_interest_free_either_way(tmp_path):
    bus, ledger, interest = _late(tmp_path, "split", 1_000)
    _pay(bus, interest["id"], 1, "paid", "pay-i-1")
    _pay(bus, interest["id"], interest["amount_cents"] - 1, "placed", "pay-i-2")
    assert ledger.payments.paid_by_mode(interest["id"]) == {"paid": 1, "placed": interest["amount_cents"] - 1}


def _with_per(tmp_path, issued_on):
    """A 2022 principal (due 31 May 2023) of a company with a PEE and a PER, its statement issued on `issued_on`."""
    data = company([person("A", 300_000)], toml(starts_on="2010-01-01", per=True), year=2022)
    bus, ledger = world(tmp_path, data)
    close_year(bus, year=2022, rcai=1_000)
    principal = ledger.entitlements.rows(scheme="interessement")[0]
    bus.publish(ev(bus, "statement_issued", {"entitlement": principal["id"], "issued_on": issued_on}, "st"))
    return bus, ledger, principal


def _interest(ledger):
    [interest] = [r for r in ledger.entitlements.rows() if r["kind"] == "interest"]
    return interest


def test_interest_of_a_principal_placed_in_the_pee_by_default_is_not_placed_in_the_per(tmp_path):
    # review5: with no choice, a PEE and a PER, the principal went to the PEE (the default, I-38) and its interest,
    # paid with it (I-40), was accepted in the PER: placed there until retirement, on no one's request
    bus, ledger, principal = _with_per(tmp_path, "2023-04-01")
    _pay(bus, principal["id"], principal["amount_cents"], "placed", "pay")
    interest = _interest(ledger)
    with pytest.raises(UserError, match="the sum is placed in the PEE, not in the company PER"):
        _pay(bus, interest["id"], interest["amount_cents"], "placed_per", "pay-i-per")
    _pay(bus, interest["id"], interest["amount_cents"], "placed", "pay-i")
    assert ledger.payments.paid_by_mode(interest["id"]) == {"placed": interest["amount_cents"]}


def test_interest_follows_a_principal_the_payments_placed_in_the_per(tmp_path):
    bus, ledger, principal = _with_per(tmp_path, "2023-07-10")  # the window runs until 25 July
    _pay(
        bus, principal["id"], principal["amount_cents"], "placed_per", "pay"
    )  # 15 July: within it, late (I-39)
    interest = _interest(ledger)
    payload = {
        "entitlement": interest["id"],
        "amount_cents": interest["amount_cents"],
        "paid_on": "2023-07-31",
    }
    bus.publish(ev(bus, "payment_recorded", {**payload, "mode": "placed_per"}, "pay-i"))
    assert ledger.payments.paid_by_mode(interest["id"]) == {"placed_per": interest["amount_cents"]}
