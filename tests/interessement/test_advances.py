"""Advances on intéressement (loi 2023-1107 art. 12, L3348-1, décret 2024-644; LAW I-41, D3313-9; D-9).

Exercise 2025, one employee A at 3 000.00 a month, salary criterion, `advances = true`; two advances of 500.00
paid on 15 April and 15 October 2025 with consent given on the 1st of each month.
"""

import json
import re
from datetime import UTC, date, datetime

import pytest
from helpers.companies import company, person, toml, world
from paybonus.audit import verify
from paybonus.errors import UserError
from paybonus.fixtures.pytest_plugin import EventFactory
from paybonus.params import Parameters

P = Parameters.default()


def ev(bus, type_, payload, id, at="2025-12-01T10:00:00+01:00"):
    """(where, event) from a JSON line, as `paybonus publish` reads it: a bad payload is a UserError."""
    line = json.dumps(
        {
            "id": id,
            "type": type_,
            "company": "ACME",
            "occurred_at": at,
            "payload": payload,
        }
    )
    return bus.host.event_types.read_jsonl("events.jsonl", [line])


JUNE_30 = "2026-06-30T18:00:00+02:00"  # the pay day a deduction is reported on


def advance(bus, id, pay_on, consented_on, amount=50_000, period="2025", **extra):
    payload = {"employee": "A", "period": period, "amount_cents": amount, "pay_on": pay_on, **extra}
    if consented_on:
        payload["consented_on"] = consented_on
    return bus.publish_all(ev(bus, "interessement_advance_granted", payload, id))


def setup(tmp_path, allowed=True, mode="paid"):
    extra = "advances = true" if allowed else ""
    bus, ledger = world(tmp_path, company([person("A", 300_000)], toml(extra=extra)))
    f = EventFactory("ACME")
    for i, (on, consent) in enumerate((("2025-04-15", "2025-04-01"), ("2025-10-15", "2025-10-01")), 1):
        advance(bus, f"adv-{i}", on, consent)
        row = next(r for r in ledger.entitlements.rows() if r["event_id"] == f"adv-{i}")
        bus.publish(f.payment_recorded(row["id"], 50_000, date.fromisoformat(on), mode, id=f"pay-adv-{i}"))
    return bus, ledger


def statement_lines(bus, ledger):
    """D3313-9: the lines of A's statement of 2025, by key (3° total, 3° bis advances, 3° ter remaining)."""
    from paybonus import Paybonus
    from paybonus.calendar import Period

    app = Paybonus(ledger, bus.host)
    [st] = app.statements(
        "ACME", Period.parse("2025"), "interessement", issued_on=date(2026, 5, 1), channel="email"
    )
    return {line["key"]: line for line in st.content["lines"]}


def close(bus, rcai):
    f = EventFactory("ACME")
    for m in range(1, 13):
        bus.publish(f.period_closed(f"2025-{m:02d}"))
    bus.publish(f.results_published("2025", {"rcai": str(rcai)}, id="results"))


def test_a1_a2_advances_are_deducted_and_the_statement_shows_3_bis_and_3_ter(tmp_path):
    # I-41 (L3348-1): rights S = 1 500.00 (rcai 1 500), advances A = 1 000.00: the computation records 500.00, a
    # correction of the last advance; D3313-9: 3° 1 500,00 €, 3° bis 1 000,00 €, 3° ter 500,00 €
    bus, ledger = setup(tmp_path)
    advances = [r for r in ledger.entitlements.rows() if r["kind"] == "advance"]
    assert [(r["amount_cents"], r["due_date"], r["status"]) for r in advances] == [
        (50_000, "2025-04-15", "paid"),
        (50_000, "2025-10-15", "paid"),
    ]
    # LAW 0.3: each advance bears its own CSG/CRDS: 6.8 % + 2.4 % + 0.5 % of 500.00 when paid out
    c = ledger.entitlements.explanation(advances[0])["parameters"]["contributions"]["paid"]
    assert c == {"csg_deductible": 3_400, "csg_non_deductible": 1_200, "crds": 250}
    close(bus, 1_500)
    final = [r for r in ledger.entitlements.rows() if r["event_id"] == "results"]
    assert [(r["kind"], r["amount_cents"], r["corrects"]) for r in final] == [
        ("correction", 50_000, advances[1]["id"])
    ]
    inputs = ledger.entitlements.explanation(final[0])["inputs"]
    assert (inputs["rights_cents"], inputs["advances_cents"], inputs["remaining_cents"]) == (
        150_000,
        100_000,
        50_000,
    )
    lines = statement_lines(bus, ledger)
    assert [(lines[k]["item"], lines[k]["cents"]) for k in ("total", "advances", "remaining")] == [
        ("3°", 150_000),
        ("3° bis", 100_000),
        ("3° ter", 50_000),
    ]
    assert lines["remaining"]["label"] == "Montant restant à percevoir"
    assert verify(ledger, bus.host.schemes).ok


def test_a3_a4_rights_below_the_advances_are_recovered_a_tenth_of_the_net_pay_at_a_time(tmp_path):
    # I-41: S = 800.00 < A = 1 000.00: a negative correction of -200.00, recovered from the salary (L3251-3) at
    # most 10 % of the month's net pay: 200.00 from a net pay of 1 800.00 is refused (180.00 at most)
    bus, ledger = setup(tmp_path)
    close(bus, 800)
    [over] = [r for r in ledger.entitlements.rows() if r["event_id"] == "results"]
    assert (over["kind"], over["amount_cents"]) == ("correction", -20_000)
    o = ledger.entitlements.explanation(over)["inputs"]["overpayment"]
    assert (o["cents"], o["salary_deduction_cents"], o["blocked_in_plan_cents"]) == (20_000, 20_000, 0)
    remaining = statement_lines(bus, ledger)["remaining"]
    assert (remaining["label"], remaining["cents"]) == ("Montant à reverser", 20_000)

    def recover(id, cents, net=180_000):
        payload = {
            "entitlement": over["id"],
            "amount_cents": cents,
            "recovered_on": "2026-06-30",
            "net_pay_cents": net,
        }
        return bus.publish_all(ev(bus, "interessement_overpayment_recovered", payload, id, JUNE_30))

    with pytest.raises(UserError, match=r"at most a tenth of the net pay \(18000 cents of 180000; L3251-3"):
        recover("r1", 20_000)
    recover("r1", 18_000)
    with pytest.raises(UserError, match="more than the 2000 cents left to recover"):
        recover("r2", 2_001)
    recover("r2", 2_000)
    with pytest.raises(UserError, match="a negative correction is recovered, not paid"):
        bus.publish(EventFactory("ACME").payment_recorded(over["id"], 100, date(2026, 6, 30)))
    assert verify(ledger, bus.host.schemes).ok


def test_a_deduction_dated_after_the_month_following_the_event_is_refused(tmp_path):
    # a typo of the year (2062 for 2026) was recorded for good, as a payment's `paid_on` no longer is: the bound
    # is the end of the month following the event, or the day it is recorded if earlier (`events.not_ahead`)
    bus, ledger = setup(tmp_path)
    close(bus, 800)
    [over] = [r for r in ledger.entitlements.rows() if r["event_id"] == "results"]
    bus.clock = lambda: datetime(2026, 7, 10, 12, tzinfo=UTC)

    def recover(id, on, at=JUNE_30):
        payload = {
            "entitlement": over["id"],
            "amount_cents": 100,
            "recovered_on": on,
            "net_pay_cents": 180_000,
        }
        return bus.publish_all(ev(bus, "interessement_overpayment_recovered", payload, id, at))

    count = ledger.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    for id, on, at, said in (
        (
            "r1",
            "2026-08-01",
            JUNE_30,
            "2026-07-31, the end of the month following the event (occurred_at 2026-06-30)",
        ),
        (
            "r2",
            "2062-06-30",
            "2062-06-30T18:00:00+02:00",
            "2026-08-31, the end of the month following the event (recorded on 2026-07-10)",
        ),
    ):
        with pytest.raises(
            UserError,
            match=re.escape(f"events.jsonl:1: payload.recovered_on: {on} is after {said}"),
        ):
            recover(id, on, at)
        assert ledger.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == count
    recover("r3", "2026-07-31")  # a payroll closed before its pay day


def test_a5_placed_advances_above_the_rights_stay_blocked(tmp_path):
    # L3348-1: an over-payment placed in a savings plan cannot be released; it becomes a voluntary payment
    # without the exemptions (a warning for the payroll)
    bus, ledger = setup(tmp_path, mode="placed")
    close(bus, 800)
    [over] = [r for r in ledger.entitlements.rows() if r["event_id"] == "results"]
    o = ledger.entitlements.explanation(over)["inputs"]["overpayment"]
    assert (o["salary_deduction_cents"], o["blocked_in_plan_cents"]) == (0, 20_000)
    rules = [r[0] for r in ledger.conn.execute("SELECT rule FROM findings WHERE event_id = 'results'")]
    assert "I-41" in rules


@pytest.mark.parametrize(
    ("allowed", "args", "message"),
    [
        (True, ("adv-3", "2025-10-20", "2025-10-01"), "advance adv-2 was paid in the same quarter"),  # D-9
        (True, ("adv-3", "2025-11-20", None), "payload.consented_on: required field missing"),
        (True, ("adv-3", "2025-11-20", "2025-11-21"), "no advance without the employee's prior consent"),
        (True, ("adv-3", "2026-01-10", "2026-01-02"), "is outside 2025-01-01..2025-12-31"),
        (False, ("adv-3", "2025-11-20", "2025-11-02"), "the agreement does not provide advances"),
    ],
)
def test_a6_an_advance_the_law_or_the_agreement_forbids_is_refused_and_nothing_is_written(
    tmp_path, allowed, args, message
):
    # L3348-1, décret 2024-644 (LAW I-41): at most once a quarter, with prior consent, during the period, and only
    # if the agreement provides it
    if allowed:
        bus, ledger = setup(tmp_path)
    else:
        bus, ledger = world(tmp_path, company([person("A", 300_000)], toml()))
    before = ledger.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    with pytest.raises(UserError, match=message):
        advance(bus, *args)
    assert ledger.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == before


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"amount": 0}, "payload.amount_cents: must be positive"),
        ({"letter_received_on": "2025-11-10"}, "payload.letter_received_on: after consented_on"),
        (
            {"period": "2025-01"},
            "payload.period: 2025-01-01..2025-01-31 is not a calculation period of the agreement",
        ),
    ],
)
def test_an_advance_of_nothing_a_letter_after_the_consent_or_of_another_period_is_refused(
    tmp_path, kwargs, message
):
    bus, ledger = world(tmp_path, company([person("A", 300_000)], toml(extra="advances = true")))
    with pytest.raises(UserError, match=re.escape(message)):
        advance(bus, "adv", "2025-11-20", "2025-11-02", **kwargs)
    assert ledger.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"amount_cents": 0}, "payload.amount_cents: must be positive"),
        ({"net_pay_cents": 0}, "payload.net_pay_cents: must be positive"),
        ({"entitlement": "ENT-nope"}, "payload.entitlement: 'ENT-nope' is not an over-payment of advances"),
    ],
)
def test_a_recovery_of_nothing_from_no_pay_or_of_no_over_payment_is_refused(tmp_path, payload, message):
    bus, ledger = world(tmp_path, company([person("A", 300_000)], toml(extra="advances = true")))
    full = {
        "entitlement": "ENT-x",
        "amount_cents": 100,
        "recovered_on": "2026-06-30",
        "net_pay_cents": 180_000,
    }
    with pytest.raises(UserError, match=re.escape(message)):
        bus.publish_all(ev(bus, "interessement_overpayment_recovered", {**full, **payload}, "r", JUNE_30))
    assert ledger.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0


def test_consent_after_the_15_days_of_the_letter_is_refused(tmp_path):
    # décret 2024-644: 15 days from the receipt of the letter to consent, unless the agreement says otherwise
    bus, _ = world(tmp_path, company([person("A", 300_000)], toml(extra="advances = true")))
    with pytest.raises(UserError, match="more than 15 days after the letter"):
        advance(bus, "late", "2025-03-20", "2025-03-17", letter_received_on="2025-03-01")
    advance(bus, "ok", "2025-03-20", "2025-03-16", letter_received_on="2025-03-01")


def test_two_advances_of_one_quarter_in_one_batch_the_second_is_a_dead_letter(tmp_path):
    # D-9: admission reads the ledger; within one file, the computation refuses the second one
    bus, ledger = world(tmp_path, company([person("A", 300_000)], toml(extra="advances = true")))
    lines = []
    for i, on in enumerate(("2025-04-10", "2025-05-10")):
        payload = {
            "employee": "A",
            "period": "2025",
            "amount_cents": 10_000,
            "pay_on": on,
            "consented_on": on,
        }
        lines.append(
            json.dumps(
                {
                    "id": f"b{i}",
                    "type": "interessement_advance_granted",
                    "company": "ACME",
                    "occurred_at": f"{on}T10:00:00+02:00",
                    "payload": payload,
                }
            )
        )
    out = bus.publish_all(bus.host.event_types.read_jsonl("batch.jsonl", lines))
    assert [d.status for o in out for d in o.dispatches] == ["completed", "failed"]
    assert "same quarter" in out[1].dispatches[0].error
    assert [r["event_id"] for r in ledger.entitlements.rows()] == ["b0"]
