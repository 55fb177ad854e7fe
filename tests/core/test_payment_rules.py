"""What `paybonus.payments` refuses or accepts, at each boundary (I-37, I-38; payments never exceed what is due).

Golden cases calling the check itself with the ledger's rows, so that each refusal is pinned to its own reason
(mutation testing, docs/testing.md).
"""

from datetime import UTC, date, datetime, timedelta

import pytest
from helpers.companies import close_year, company, person, toml, world
from paybonus import payments
from paybonus.params import Parameters

P = Parameters.default()


@pytest.fixture
def acme(tmp_path):
    bus, ledger = world(tmp_path, company([person("A", 300_000)], toml(headcount=10)))
    close_year(bus, rcai=5_000)
    ent = ledger.entitlements.rows(scheme="interessement")[0]
    return bus, ledger, ent


def event(bus, type_, payload, company="ACME", occurred_at="2026-04-01T10:00:00+02:00"):
    return bus.host.event_types.from_dict(
        {
            "id": f"e-{type_}",
            "type": type_,
            "company": company,
            "occurred_at": occurred_at,
            "payload": payload,
        }
    )


def pay(bus, ent_id, cents, mode="paid", company="ACME", on="2026-05-02"):
    return event(
        bus,
        "payment_recorded",
        {"entitlement": ent_id, "amount_cents": cents, "paid_on": on, "mode": mode},
        company,
    )


LATER = date(2100, 1, 1)  # recorded long after: only the event's own date bounds the dates it reports


def check(ledger, ev, pending=None, row=None, monkeypatch=None, today=LATER):
    if row is not None:
        monkeypatch.setattr(ledger.entitlements, "get", lambda _id: row)
    pending = {} if pending is None else pending
    payments.check(ledger, ev, pending, P, today)
    return pending


def test_a_payment_of_another_companys_entitlement_is_refused(acme):
    bus, ledger, ent = acme
    with pytest.raises(ValueError, match=r"no entitlement .* for company 'OTHER'"):
        check(ledger, pay(bus, ent["id"], 100, company="OTHER"))
    with pytest.raises(ValueError, match="no entitlement 'ENT-nope'"):
        check(ledger, pay(bus, "ENT-nope", 100))


def test_payments_in_one_batch_add_up_against_what_is_due(acme):
    bus, ledger, ent = acme
    amount = ent["amount_cents"]
    pending = check(ledger, pay(bus, ent["id"], amount - 10))
    assert pending[ent["id"]] == amount - 10
    pending = check(ledger, pay(bus, ent["id"], 10), pending)  # exactly what is left: accepted
    assert pending[ent["id"]] == amount
    with pytest.raises(ValueError, match="more than is still due on this entitlement"):
        check(ledger, pay(bus, ent["id"], 1), pending)


def test_what_was_already_paid_counts_against_what_is_due(acme):
    bus, ledger, ent = acme
    bus.publish(pay(bus, ent["id"], 100))
    with pytest.raises(ValueError, match="more than is still due on this entitlement"):
        check(ledger, pay(bus, ent["id"], ent["amount_cents"] - 99))
    check(ledger, pay(bus, ent["id"], ent["amount_cents"] - 100))


def test_a_zero_entitlement_is_paid_nothing_and_a_negative_one_is_recovered(acme, monkeypatch):
    bus, ledger, ent = acme
    zero = {**dict(ent), "amount_cents": 0}
    with pytest.raises(ValueError, match="more than is still due on this entitlement"):
        check(ledger, pay(bus, ent["id"], 1), row=zero, monkeypatch=monkeypatch)
    negative = {**dict(ent), "amount_cents": -500, "kind": "correction"}
    with pytest.raises(ValueError, match="a negative correction is recovered, not paid"):
        check(ledger, pay(bus, ent["id"], 1), row=negative, monkeypatch=monkeypatch)


def test_only_intéressement_type_sums_can_be_placed(tmp_path, monkeypatch):  # I-38, LAW 0.4
    bus, ledger = world(tmp_path, company([person("A", 300_000)], toml(headcount=10, per=True)))
    close_year(bus, rcai=5_000)
    ent = ledger.entitlements.rows(scheme="interessement")[0]
    check(ledger, pay(bus, ent["id"], 100, mode="placed"))
    check(ledger, pay(bus, ent["id"], 100, mode="placed_per"))
    salary = {**dict(ent), "social_regime": "salary"}
    check(ledger, pay(bus, ent["id"], 100, mode="paid"), row=salary, monkeypatch=monkeypatch)
    with pytest.raises(ValueError, match="only intéressement-type sums can be placed"):
        check(ledger, pay(bus, ent["id"], 100, mode="placed"), row=salary, monkeypatch=monkeypatch)
    choice = event(
        bus, "option_chosen", {"entitlement": ent["id"], "choice": "paid", "chosen_on": "2026-04-02"}
    )
    with pytest.raises(ValueError, match="the choice to place applies to intéressement-type sums only"):
        check(ledger, choice, row=salary, monkeypatch=monkeypatch)


def statement(bus, ent_id, on):
    return event(bus, "statement_issued", {"entitlement": ent_id, "issued_on": on})


def choose(bus, ent_id, on, choice="paid", placed=None):
    payload = {"entitlement": ent_id, "choice": choice, "chosen_on": on}
    if placed is not None:
        payload["placed_cents"] = placed
    return event(bus, "option_chosen", payload)


def test_the_choice_window_opens_with_the_statement_and_lasts_15_days_both_ends_included(acme):  # I-38
    bus, ledger, ent = acme
    with pytest.raises(ValueError, match="no statement was issued yet"):
        check(ledger, choose(bus, ent["id"], "2026-04-02"))
    # a statement earlier in the same batch opens the window; the earliest one counts
    pending = check(ledger, statement(bus, ent["id"], "2026-04-05"))
    pending = check(ledger, statement(bus, ent["id"], "2026-04-01"), pending)
    assert pending == {f"statement:{ent['id']}": date(2026, 4, 1).toordinal()}
    pending = check(ledger, statement(bus, ent["id"], "2026-04-09"), pending)
    assert pending == {f"statement:{ent['id']}": date(2026, 4, 1).toordinal()}
    for on in ("2026-04-01", "2026-04-16"):
        check(ledger, choose(bus, ent["id"], on), dict(pending))
    for on in ("2026-03-31", "2026-04-17"):
        with pytest.raises(ValueError, match=r"outside the choice window 2026-04-01..2026-04-16 \(I-38\)"):
            check(ledger, choose(bus, ent["id"], on), dict(pending))
    # once recorded, the ledger's statement opens it
    bus.publish(statement(bus, ent["id"], "2026-04-01"))
    assert payments.option_window(ledger, ent["id"], P) == (date(2026, 4, 1), date(2026, 4, 16))
    check(ledger, choose(bus, ent["id"], "2026-04-16"))
    with pytest.raises(ValueError, match="outside the choice window"):
        check(ledger, choose(bus, ent["id"], "2026-04-17"))


def test_a_payment_dated_before_the_period_starts_is_refused(acme):
    # paid_on 2020-05-28 for 2026-05-28: recorded for good otherwise (an event is never edited)
    bus, ledger, ent = acme
    assert ent["period_start"] == "2025-01-01"
    with pytest.raises(
        ValueError, match=r"payload.paid_on: 2024-12-31 is before the period of .* \(2025-01-01\)"
    ):
        check(ledger, pay(bus, ent["id"], 100, on="2024-12-31"))
    check(ledger, pay(bus, ent["id"], 100, on="2025-01-01"))


def test_a_statement_issued_before_the_period_is_over_is_refused(acme):  # I-38
    # a typo in the year (2020 for 2026) opened the window in 2020; the earliest statement counts, so no later
    # one could reopen it and the employee's choice was lost (the default applied)
    bus, ledger, ent = acme
    assert ent["period_end"] == "2025-12-31"
    for on in ("2020-04-01", "2025-06-01", "2025-12-31"):
        with pytest.raises(ValueError, match=rf"payload.issued_on: {on} is not after the period of .* ends"):
            check(ledger, statement(bus, ent["id"], on))
    check(ledger, statement(bus, ent["id"], "2026-01-01"))


@pytest.mark.parametrize(
    ("occurred", "last_day"),
    [
        ("2026-04-01T10:00:00+02:00", "2026-05-31"),
        ("2026-11-30T23:30:00+01:00", "2026-12-31"),
        ("2026-12-01T00:30:00+01:00", "2027-01-31"),
        ("2027-01-31T09:00:00+01:00", "2027-02-28"),
    ],
)
@pytest.mark.parametrize(
    ("type_", "field", "extra"),
    [
        ("payment_recorded", "paid_on", {"amount_cents": 100}),
        ("statement_issued", "issued_on", {}),
        ("option_chosen", "chosen_on", {"choice": "paid"}),
    ],
)
def test_a_date_after_the_month_following_the_event_is_refused(acme, occurred, last_day, type_, field, extra):
    # a typo of the year (2062 for 2026): the payment's late interest asked for a TMOP that cannot exist yet, a
    # statement would have moved the choice window years on; a payroll closing before its pay day is allowed
    bus, ledger, ent = acme
    after = (
        date.fromisoformat(last_day).replace(day=1).replace(month=date.fromisoformat(last_day).month % 12 + 1)
    )
    after = after if after > date.fromisoformat(last_day) else after.replace(year=after.year + 1)
    bus.clock = lambda: datetime(2099, 12, 31, 12, tzinfo=UTC)  # recorded later than every date here
    if type_ == "option_chosen":  # the last day inside the window, so that only the date can refuse it
        opened = (date.fromisoformat(last_day) - timedelta(days=5)).isoformat()
        bus.publish(
            event(
                bus, "statement_issued", {"entitlement": ent["id"], "issued_on": opened}, occurred_at=occurred
            )
        )
    for day, refused in ((last_day, False), (after.isoformat(), True), ("2062-05-02", True)):
        ev = event(bus, type_, {"entitlement": ent["id"], field: day, **extra}, occurred_at=occurred)
        if refused:
            with pytest.raises(ValueError) as info:
                check(ledger, ev)
            assert (
                f"payload.{field}: {day} is after {last_day}, the end of the month following the event"
                in str(info.value)
            )
        else:
            check(ledger, ev)  # accepted: no other refusal hides behind this one


def test_a_split_places_less_than_the_whole_amount(acme):
    bus, ledger, ent = acme
    bus.publish(statement(bus, ent["id"], "2026-04-01"))
    amount = ent["amount_cents"]
    check(ledger, choose(bus, ent["id"], "2026-04-02", "split", amount - 1))
    with pytest.raises(ValueError, match="a split places less than the whole amount"):
        check(ledger, choose(bus, ent["id"], "2026-04-02", "split", amount))


def test_the_allocation_reads_the_choice_else_the_default_once_the_window_closed(acme):  # I-38
    bus, ledger, ent = acme
    eid = ent["id"]
    assert payments.allocation(ledger, eid, date(2026, 4, 1), P) == {
        "allocation": "pending",
        "by": "no statement issued yet",
    }
    bus.publish(statement(bus, eid, "2026-04-01"))
    assert payments.allocation(ledger, eid, date(2026, 4, 16), P) == {
        "allocation": "pending",
        "by": "window open until 2026-04-16",
    }
    assert payments.allocation(ledger, eid, date(2026, 4, 17), P) == {
        "allocation": "placed",
        "by": "default after the window (I-38)",
    }
    bus.publish(choose(bus, eid, "2026-04-03", "split", 1000))
    assert payments.allocation(ledger, eid, date(2026, 5, 1), P) == {
        "allocation": "split",
        "placed_cents": 1000,
        "by": "choice",
    }


def test_the_default_without_a_savings_plan_is_payment_and_without_a_row_too(acme, monkeypatch):
    bus, ledger, ent = acme
    bus.publish(statement(bus, ent["id"], "2026-04-01"))
    monkeypatch.setattr(ledger.companies, "toml", lambda _c: None)
    assert payments.allocation(ledger, ent["id"], date(2026, 5, 1), P)["allocation"] == "paid"
    monkeypatch.setattr(ledger.entitlements, "get", lambda _id: None)
    assert payments.allocation(ledger, ent["id"], date(2026, 5, 1), P)["allocation"] == "paid"


def test_outstanding_is_what_is_left_to_pay(acme):
    bus, ledger, ent = acme
    assert payments.outstanding(ledger, ent["id"]) == ent["amount_cents"]
    bus.publish(pay(bus, ent["id"], 100))
    assert payments.outstanding(ledger, ent["id"]) == ent["amount_cents"] - 100
    assert payments.outstanding(ledger, "ENT-nope") == 0


def test_a_placement_in_the_pee_of_a_company_without_one_is_refused(tmp_path):  # I-38
    # has_savings_plan = false: "placed" (in the PEE) was recorded, and the export then read it as placed
    # (CSG 9.2 %, free of income tax); the company PER stays open with `placed_per`
    bus, ledger = world(
        tmp_path,
        company(
            [person("A", 300_000)],
            toml(headcount=10, per=True).replace("has_savings_plan = true", "has_savings_plan = false"),
        ),
    )
    close_year(bus, rcai=5_000)
    ent = ledger.entitlements.rows(scheme="interessement")[0]
    with pytest.raises(ValueError, match=r"payload.mode: company 'ACME' has no savings plan"):
        check(ledger, pay(bus, ent["id"], 100, mode="placed"))
    for mode in ("paid", "placed_per"):
        check(ledger, pay(bus, ent["id"], 100, mode=mode))


@pytest.mark.parametrize("plan", ["", "has_company_per = true\n", "per_qualifying = true\n"])
def test_a_placement_in_a_company_per_the_company_does_not_have_is_refused(tmp_path, plan):  # I-38, LAW 0.4
    # `placed_per` was accepted in any company: the statement then told of a PER the company does not have, and
    # the export applied the forfait social of a PER to it. A PER is declared (`has_company_per`), or implied by
    # `per_qualifying` (a PER that qualifies for 16 % exists)
    text = toml(headcount=10).replace("has_savings_plan = true\n", "has_savings_plan = true\n" + plan)
    bus, ledger = world(tmp_path, company([person("A", 300_000)], text))
    close_year(bus, rcai=5_000)
    ent = ledger.entitlements.rows(scheme="interessement")[0]
    if plan:
        check(ledger, pay(bus, ent["id"], 100, mode="placed_per"))
    else:
        with pytest.raises(
            ValueError, match=r"payload.mode: company 'ACME' has no company PER \(has_company_per"
        ):
            check(ledger, pay(bus, ent["id"], 100, mode="placed_per"))
    check(ledger, pay(bus, ent["id"], 100, mode="placed"))  # the PEE, as before


@pytest.mark.parametrize(("pee", "per"), [(False, False), (False, True), (True, False)])
def test_a_choice_to_place_needs_a_pee_or_a_company_per_where_its_placed_part_goes(
    tmp_path, pee, per
):  # I-38
    # without a PEE, a choice to place (or a split) was recorded though nothing could follow it: `placed` is refused
    # without a PEE and `paid` by the choice; only `placed_per` was left, in a PER the company may not have. Now:
    # no PEE but a company PER, the placed part goes to the PER; neither plan, the choice is refused (one line)
    text = toml(headcount=10, per=per).replace(
        "has_savings_plan = true", f"has_savings_plan = {str(pee).lower()}"
    )
    bus, ledger = world(tmp_path, company([person("A", 300_000)], text))
    close_year(bus, rcai=5_000)
    ent = ledger.entitlements.rows(scheme="interessement")[0]
    bus.publish(statement(bus, ent["id"], "2026-04-01"))
    amount = ent["amount_cents"]
    choices = [
        choose(bus, ent["id"], "2026-04-02", "placed"),
        choose(bus, ent["id"], "2026-04-02", "split", 100),
    ]
    check(ledger, choose(bus, ent["id"], "2026-04-02", "paid"))  # always possible
    if not (pee or per):
        for c in choices:
            with pytest.raises(ValueError) as info:
                check(ledger, c)
            assert str(info.value) == (
                "payload.choice: company 'ACME' has no PEE and no company PER (has_savings_plan and has_company_per "
                "false in its company.toml): nothing can be placed, only 'paid' can be chosen"
            )
        return
    for c in choices:
        check(ledger, c)
    bus.publish(choices[0])
    into, other = ("placed", "placed_per") if pee else ("placed_per", "placed")
    check(ledger, pay(bus, ent["id"], amount, mode=into))  # the whole sum, in the company's plan
    with pytest.raises(ValueError, match=r"payload.mode: company 'ACME' has no"):
        check(ledger, pay(bus, ent["id"], amount, mode=other))
    with pytest.raises(ValueError, match=r"the employee chose 'placed'"):
        check(ledger, pay(bus, ent["id"], amount))


def test_a_date_after_the_month_following_its_recording_is_refused_whatever_the_event_says(acme):
    # a payroll that stamps occurred_at from the pay date carries the typo into both (2062-06-15 for 2026-06-15):
    # the day it is recorded bounds the dates it reports too, so that the typo cannot reach the ledger
    bus, ledger, ent = acme
    typo = pay(bus, ent["id"], 100, on="2062-06-15")
    typo = event(bus, "payment_recorded", typo.to_dict()["payload"], occurred_at="2062-06-15T18:00:00+02:00")
    for today, refused in ((date(2062, 5, 1), False), (date(2026, 12, 2), True), (date(2062, 4, 30), True)):
        if refused:
            with pytest.raises(ValueError, match=rf"paid_on: 2062-06-15 is after .*\(recorded on {today}\)"):
                check(ledger, typo, today=today)
        else:
            check(ledger, typo, today=today)
    # through the bus, its clock is the recording day
    bus.clock = lambda: datetime(2026, 12, 2, 10, tzinfo=UTC)
    with pytest.raises(Exception, match="paid_on: 2062-06-15 is after 2027-01-31"):
        bus.publish(typo)
    assert ledger.payments.paid_cents(ent["id"]) == 0


@pytest.mark.parametrize(
    ("pee", "message", "default"),
    [
        # a company with a PER and no PEE pays the sum out for want of an answer, and places it in the PER only on
        # the employee's request (the mirror of "no choice: placed in the PEE, not paid out" where there is a PEE)
        (
            False,
            "payload.mode: no choice was recorded by the end of the window (2026-04-16): without a PEE the sum is "
            "paid out, not placed in the company PER (I-38: placed only on request)",
            "paid",
        ),
        # no request and a PEE: the sum is placed in the PEE (5 years), not the PER (until retirement)
        (
            True,
            "payload.mode: no choice was recorded by the end of the window (2026-04-16): the sum is placed in the "
            "PEE, not in the company PER (I-38: placed in the PER only on request)",
            "placed",
        ),
    ],
)
def test_with_no_choice_a_sum_is_not_placed_in_the_company_per_after_the_window(
    tmp_path, pee, message, default
):
    # I-38: `placed_per` after the window with no choice was accepted, locking the sum until retirement without
    # the employee's request; within the window, or once the employee asked to place, it goes to either plan
    text = toml(headcount=10, per=True)
    if not pee:
        text = text.replace("has_savings_plan = true", "has_savings_plan = false")
    bus, ledger = world(tmp_path, company([person("A", 300_000)], text))
    close_year(bus, rcai=5_000)
    ent = ledger.entitlements.rows(scheme="interessement")[0]
    bus.publish(statement(bus, ent["id"], "2026-04-01"))  # the window runs until 16 April
    check(ledger, pay(bus, ent["id"], 100, mode="placed_per", on="2026-04-16"))  # within it: as before
    with pytest.raises(ValueError) as info:
        check(ledger, pay(bus, ent["id"], 100, mode="placed_per", on="2026-04-17"))
    assert str(info.value) == message
    check(ledger, pay(bus, ent["id"], 100, mode=default, on="2026-04-17"))  # the default
    bus.publish(choose(bus, ent["id"], "2026-04-02", "placed"))
    check(ledger, pay(bus, ent["id"], 100, mode="placed_per", on="2026-04-17"))  # asked to place: the PER
