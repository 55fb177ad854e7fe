"""Red-team cases (redteam12): each names the rule it pins, with the arithmetic by hand."""

import json

from helpers.companies import amounts, company, person, summary, toml, world
from paybonus.audit import verify
from paybonus.fixtures.pytest_plugin import EventFactory

H1, H2 = "2025-01-01..2025-06-30", "2025-07-01..2025-12-31"


def recompute(bus, period, id="rq"):
    line = json.dumps(
        {
            "id": id,
            "type": "recomputation_requested",
            "company": "ACME",
            "occurred_at": "2026-01-15T09:00:00+01:00",
            "payload": {"scheme": "interessement", "period": period, "reason": "check"},
        }
    )
    return bus.publish_all(bus.host.event_types.read_jsonl("r.jsonl", [line]))


def semesters(tmp_path, rcai_h1="5000", rcai_h2="100000"):
    """Two people at 5 000.00 a month: payroll 60 000.00 a semester. H1 pool 5 000.00 (20 % cap 12 000.00);
    H2 pool 100 000.00 capped at 20 % x 120 000.00 - 5 000.00 = 19 000.00 (I-17, I-20)."""
    people = [person("A", 500_000), person("B", 500_000)]
    bus, ledger = world(tmp_path, company(people, toml(period_months=6)))
    f = EventFactory("ACME")
    for m in range(1, 13):
        bus.publish(f.period_closed(f"2025-{m:02d}"))
    bus.publish(f.results_published(H1, {"rcai": rcai_h1}, id="h1"))
    bus.publish(f.results_published(H2, {"rcai": rcai_h2}, id="h2"))
    return bus, ledger


def test_i17_recomputing_an_earlier_period_does_not_count_a_later_period_against_its_smaller_payroll(
    tmp_path,
):
    # I-17, I-20: the cap is 20 % of the exercise's payroll. H2 took the 19 000.00 H1 left of the 24 000.00:
    # computing H1 again with the same figures must change nothing (it gave 2 x 2 500.00, not 0: 12 000.00 -
    # 19 000.00 counted H2 against H1's half-year payroll)
    bus, ledger = semesters(tmp_path)
    assert summary(ledger, "h1")["pool_cents"] == 500_000 and summary(ledger, "h2")["pool_cents"] == 1_900_000
    before = amounts(ledger)
    recompute(bus, H1)
    assert amounts(ledger) == before == {"A": 1_200_000, "B": 1_200_000}
    assert [r for r in ledger.entitlements.rows() if r["kind"] == "correction"] == []
    assert verify(ledger, bus.host.schemes).ok


def test_i17_restated_earlier_results_stay_within_the_exercise_cap(tmp_path):
    # I-17: H1 restated from 5 000 to 10 000 after H2 was computed: H1's own cap (12 000.00) would allow it, but
    # the exercise's 24 000.00 is already reached by 5 000.00 + 19 000.00: H1 stays at 5 000.00
    bus, ledger = semesters(tmp_path)
    f = EventFactory("ACME")
    from datetime import datetime, timedelta, timezone

    at = datetime(2026, 2, 1, tzinfo=timezone(timedelta(hours=1)))
    bus.publish(f.results_published(H1, {"rcai": "10000"}, id="h1-restated", at=at))
    assert sum(amounts(ledger).values()) == 2_400_000  # 20 % of 120 000.00, never more
    s = summary(ledger, "h1-restated")
    assert s["pool_cents"] == 500_000 and s["later_in_exercise_cents"] == 1_900_000
    # restated down: the correction is taken, H2 is not computed again (its figures did not change)
    bus.publish(f.results_published(H1, {"rcai": "3000"}, id="h1-down", at=at + timedelta(days=1)))
    assert sum(amounts(ledger).values()) == 300_000 + 1_900_000


def test_i17_what_an_earlier_period_left_undistributed_is_not_counted_at_its_recomputation(tmp_path):
    # I-17 caps what is distributed, I-36 (reliquat kept): A, 50 000.00 a month, leaves on 30 June (cap prorated
    # 3 532 500 x 181 // 365 = 1 751 732, I-33); B and C 5 000.00 all year. H1: payroll 360 000.00, cap 72 000.00,
    # pool 72 000.00 by salary: A 60 000.00 -> 17 517.32, B and C 6 000.00 each, 42 482.68 left undistributed.
    # H2: cap 20 % x 420 000.00 = 84 000.00 less the 29 517.32 given = 54 482.68, 27 241.34 each to B and C.
    # H1 again with the same figures: its pool stays 72 000.00 (it distributes 29 517.32, within 84 000.00 less
    # H2's 54 482.68); cutting the pool to 29 517.32 gave B and C 2 459.77 each instead of 6 000.00
    people = [person("A", 5_000_000, end="2025-06-30"), person("B", 500_000), person("C", 500_000)]
    bus, ledger = world(tmp_path, company(people, toml(period_months=6)))
    f = EventFactory("ACME")
    for m in range(1, 13):
        bus.publish(f.period_closed(f"2025-{m:02d}"))
    bus.publish(f.results_published(H1, {"rcai": "72000"}, id="h1"))
    bus.publish(f.results_published(H2, {"rcai": "1000000"}, id="h2"))
    assert amounts(ledger) == {"A": 1_751_732, "B": 600_000 + 2_724_134, "C": 600_000 + 2_724_134}
    assert summary(ledger, "h1")["undistributed_cents"] == 4_248_268
    before = amounts(ledger)
    recompute(bus, H1)
    assert amounts(ledger) == before
    assert summary(ledger, "rq")["pool_cents"] == 7_200_000
    assert verify(ledger, bus.host.schemes).ok
