"""Late-payment interest (LAW I-39, I-40, 0.5; docs/rules.md D-1): golden cases on 1 000.00 € unless stated.

interest = paid x 1.33 x max(0, TMOP) x days late / 365, rounded half-up to the cent once. Default convention
(`late_interest_tmop = "published"`): every late day at the TMOP in force on the payment date, a semester's TMOP
being in force from the day after its avis appeared in the JO (LAW 0.5, Ooreka 2020). Option `per_semester`:
each day at its own half-year's TMOP.
"""

from datetime import date

import pytest
from helpers.companies import close_year, company, person, toml, world
from paybonus.audit import verify
from paybonus.fixtures.pytest_plugin import EventFactory
from paybonus.params import Parameters
from paybonus.plugins.interessement.interest import interest, recompute_interest

P = Parameters.default()


def exercise(tmp_path, year, convention=None, monthly=300_000, rcai=1_000):
    extra = f'late_interest_tmop = "{convention}"' if convention else ""
    data = company([person("A", monthly)], toml(starts_on="2010-01-01", extra=extra), year=year)
    bus, ledger = world(tmp_path, data)
    close_year(bus, year=year, rcai=rcai)
    principal = ledger.entitlements.rows(scheme="interessement")[0]
    return bus, ledger, principal


def pay(bus, principal, cents, on):
    event = EventFactory("ACME").payment_recorded(
        principal["id"], cents, date.fromisoformat(on), id=f"p-{on}"
    )
    return bus.publish(event)


def interest_rows(ledger):
    return [r for r in ledger.entitlements.rows() if r["kind"] == "interest"]


def findings(ledger, event_id):
    return ledger.conn.execute(
        "SELECT rule, message FROM findings WHERE event_id = ? AND scheme = 'interessement'", (event_id,)
    ).fetchall()


def on_2015(paid_on, convention="published"):
    """Interest on 1 000.00 € due 31/05/2015 and paid on `paid_on` (the computation itself: a 2014 exercise
    cannot be run end to end, the forfait social headcount rule is dated from 2019)."""
    return interest(P, "ENT-x", date(2015, 5, 31), date.fromisoformat(paid_on), 100_000, "pay", convention)


def test_t1_the_day_before_a_notice_the_previous_semester_is_in_force():
    # I-40, LAW 0.5: due 31/05/2015, paid 16/09/2015: the 2015-S1 avis appears in the JO of 16/09/2015 and is in
    # force on the 17th, so 2014-S2 (avis JO 06/03/2015, 1.50 %) applies to all 108 days (1 June-16 September):
    # 100 000 x 1.33 x 0.015 x 108 / 365 = 590.30 -> 5.90 EUR
    cents, expl, warnings = on_2015("2015-09-16")
    assert cents == 590
    [seg] = expl.inputs["segments"]
    assert (seg["semester"], seg["jo"], seg["days"], seg["tmop"]) == ("2014-S2", "2015-03-06", 108, "0.0150")
    assert seg["in_force_from"] == "2015-03-07" and seg["estimated"] is False
    assert expl.parameters["tmop_convention"] == "published" and "D-1" in expl.rules
    assert warnings == []  # a verified notice, the next one known: nothing to warn about
    assert recompute_interest(expl) == 590


def test_t2_from_the_day_after_the_notice_the_new_semester_applies():
    # I-40: paid 17/09/2015, the 2015-S1 TMOP (avis JORF n° 0214 du 16/09/2015, 0.96 %) is in force:
    # 109 days: 100 000 x 1.33 x 0.0096 x 109 / 365 = 381.29 -> 3.81 EUR
    cents, expl, _ = on_2015("2015-09-17")
    assert cents == 381 and expl.inputs["segments"][0]["semester"] == "2015-S1"


def test_t3_per_semester_each_day_at_its_own_half_year():
    # I-40 option (late_interest_tmop = "per_semester"): 1-30 June 2015 (30 days) at 2015-S1 0.96 %, 1 July-16
    # September (78 days) at 2015-S2 1.19 %: 133 000 x (0.0096 x 30 + 0.0119 x 78) / 365 = 443.16 -> 4.43 EUR
    cents, expl, _ = on_2015("2015-09-16", "per_semester")
    assert cents == 443
    assert [(s["semester"], s["days"]) for s in expl.inputs["segments"]] == [("2015-S1", 30), ("2015-S2", 78)]


def test_the_interest_entitlement_references_its_principal_and_verifies(tmp_path):
    # I-40: the interest is paid with the principal: an entitlement of kind interest referencing it
    bus, ledger, a = exercise(tmp_path, 2022)
    pay(bus, a, 100_000, "2023-08-30")
    [i] = interest_rows(ledger)
    assert i["corrects"] == a["id"] and i["due_date"] == "2023-08-30"
    assert verify(ledger, bus.host.schemes).ok


def test_t4_a_negative_tmop_in_force_gives_no_interest(tmp_path):
    # LAW 0.5 (Trésor guidance, svp.com): 500.00 due 31/05/2021 paid 20/06/2021; in force: 2020-S2 -0.02 % (since
    # 14/02/2021, JO date estimated) -> counted as 0: no interest entitlement, and a warning on the estimate
    bus, ledger, a = exercise(tmp_path, 2020)
    assert a["due_date"] == "2021-05-31"
    pay(bus, a, 50_000, "2021-05-31")  # on the deadline: no interest (I-39)
    pay(bus, a, 50_000, "2021-06-20")
    assert interest_rows(ledger) == []
    assert any("estimated JO date" in m for _, m in findings(ledger, "p-2021-06-20"))


def test_t5_per_semester_gives_2021_s1_its_020_percent(tmp_path):
    # I-40 option: the 20 late days of June 2021 at 2021-S1 (0.20 %): 50 000 x 1.33 x 0.002 x 20 / 365 = 7.29
    bus, ledger, a = exercise(tmp_path, 2020, "per_semester")
    pay(bus, a, 50_000, "2021-05-31")
    pay(bus, a, 50_000, "2021-06-20")
    [i] = interest_rows(ledger)
    assert i["amount_cents"] == 7


def test_t6_t7_a_missing_semester_is_named_then_added_by_the_host(tmp_path):
    # LAW 0.5: 2024 and later are supplied by the user. Paid 15/07/2026 for a deadline of 31/05/2026: the
    # 2025-S2 notice was due by 31/03/2026 (3-month window), so 2025-S2 is needed and named.
    bus, ledger, a = exercise(tmp_path, 2025)
    out = pay(bus, a, 100_000, "2026-07-15")
    d = out.dispatches[0]
    assert d.status == "failed" and "the TMOP of 2025-S2 is unknown" in d.error
    assert "due by 2026-03-31" in d.error and 'semester = "2025-S2"' in d.error and "\n" not in d.error
    # the row to add survives the redaction of stored failures (an amount-looking "0.0" became "[amount]")
    assert 'value = "0.NNNN" }' in d.error and "[amount]" not in d.error
    extra = tmp_path / "tmop.toml"
    extra.write_text(  # a fictitious test value, not a JO figure
        '[tmop]\nunit = "rate"\nsource = "test value"\n'
        'values = [{ semester = "2025-S2", jo = 2026-02-10, from = 2026-02-11, value = "0.0300" }]\n'
    )
    bus.params = P.with_file(extra)
    assert [o.status for o in bus.retry()] == ["completed"]
    # 45 days (1 June-15 July 2026): 100 000 x 1.33 x 0.03 x 45 / 365 = 491.92 -> 4.92 EUR
    [i] = interest_rows(ledger)
    assert i["amount_cents"] == 492
    # 2026-S1 ended on 30/06, its notice may already be out: a warning says to add it and recompute
    assert any("2026-S1 may have appeared" in m for _, m in findings(ledger, "p-2026-07-15"))


def test_t8_a_2023_payment_uses_the_notice_in_force_not_the_future_one(tmp_path):
    # I-40: due 31/05/2023, paid 30/08/2023 (91 days). The 2023-S1 notice is estimated in force from 01/10/2023
    # (S1 window July-September): in force on 30/08 is 2022-S2, 2.51 %:
    # 100 000 x 1.33 x 0.0251 x 91 / 365 = 832.29 -> 8.32 EUR (per semester: 30 d x 3.14 % + 61 d x 3.37 % = 10.92)
    bus, ledger, a = exercise(tmp_path, 2022)
    pay(bus, a, 100_000, "2023-08-30")
    [i] = interest_rows(ledger)
    assert i["amount_cents"] == 832
    warned = [m for _, m in findings(ledger, "p-2023-08-30")]
    assert any("estimated JO date" in m for m in warned) and any(
        "2023-S1 may have appeared" in m for m in warned
    )
    bus2, ledger2, a2 = exercise(tmp_path, 2022, "per_semester")
    pay(bus2, a2, 100_000, "2023-08-30")
    assert [r["amount_cents"] for r in interest_rows(ledger2)] == [1_092]


def test_per_semester_names_every_missing_half_year(tmp_path):
    bus, _, a = exercise(tmp_path, 2023, "per_semester")
    out = pay(bus, a, 100_000, "2024-08-15")
    assert "the TMOP of 2024-S1, 2024-S2 is unknown" in out.dispatches[0].error


def test_the_convention_is_checked_at_load():
    from paybonus import load_plugins
    from paybonus.config import parse_company_toml, scheme_config
    from paybonus.errors import UserError

    text = toml(extra='late_interest_tmop = "payment_day"')
    with pytest.raises(UserError, match=r"schemes.interessement.late_interest_tmop: expected one of"):
        scheme_config(
            parse_company_toml(text, "company.toml"),
            load_plugins(entry_points=False).schemes["interessement"],
            "company.toml",
        )


def test_a_recomputation_corrects_interest_computed_with_the_former_convention(tmp_path):
    # D-1: interest recorded with per_semester (10.92 €, as paybonus 1.0 did); the company moves to the default
    # and asks for 2022 again: a -2.60 € interest entitlement citing the request brings it to 8.32 €
    import json as _json

    from paybonus.sources import store_company

    bus, ledger, a = exercise(tmp_path, 2022, "per_semester")
    pay(bus, a, 100_000, "2023-08-30")
    store_company(ledger, company([person("A", 300_000)], toml(starts_on="2010-01-01"), year=2022))
    line = _json.dumps(
        {
            "id": "recompute-2022",
            "type": "recomputation_requested",
            "company": "ACME",
            "occurred_at": "2026-07-01T09:00:00+02:00",
            "payload": {
                "scheme": "interessement",
                "period": "2022",
                "reason": "TMOP in force on the payment date",
            },
        }
    )
    bus.publish_all(bus.host.event_types.read_jsonl("r.jsonl", [line]))
    rows = interest_rows(ledger)
    assert [r["amount_cents"] for r in rows] == [1_092, -260]
    assert rows[1]["corrects"] == a["id"] and rows[1]["event_id"] == "recompute-2022"
    assert ledger.entitlements.explanation(rows[1])["inputs"]["previous_cents"] == 1_092
    assert verify(ledger, bus.host.schemes).ok
