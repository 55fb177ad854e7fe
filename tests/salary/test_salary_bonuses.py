"""Prime sur objectif, prime NAO and PMT: seed golden cases (LAW sections 4 to 7) and invariants."""

import json
from datetime import date

import pytest
from helpers.companies import HEAD, close, company, nao, person, world
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paybonus.errors import UserError
from paybonus.fixtures.pytest_plugin import EventFactory
from paybonus.hooks import Explanation


def objectives(plans: str, **common) -> str:
    extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in common.items())
    return HEAD + "\n[schemes.prime_objectif]\n" + extra + plans


PLAN = """
[[schemes.prime_objectif.plans]]
id = "{id}"
members = {members}
scope = "{scope}"
formula = "{formula}"
figures = {figures}
max_amount = "{max}"
communicated_on = {communicated}
language = "{language}"
"""


def plan(
    id="ventes",
    members=("A",),
    scope="individual",
    formula="step(ca, [[0, 0], [50000, 0.10], [60000, 0.20]]) * ca",
    figures=("ca",),
    max="20000.00",
    communicated="2025-01-01",
    language="fr",
):
    return PLAN.format(
        id=id,
        members=json.dumps(list(members)),
        scope=scope,
        formula=formula,
        figures=json.dumps(list(figures)),
        max=max,
        communicated=communicated,
        language=language,
    )


def results(bus, plan_id, period, figures=None, employees=None, id=None):
    e = bus.host.event_types.from_dict(
        {
            "id": id or f"res-{plan_id}-{period}",
            "type": "objective_results",
            "company": "ACME",
            "occurred_at": "2026-01-10T10:00:00+01:00",
            "payload": {
                "plan": plan_id,
                "period": period,
                "figures": figures or {},
                "employees": employees or {},
            },
        }
    )
    return bus.publish(e)


def by_emp(ledger, scheme, period=None):
    from paybonus.calendar import Period

    out = {}
    for r in ledger.entitlements.rows(scheme=scheme, period=Period.parse(period) if period else None):
        out[r["employee"]] = out.get(r["employee"], 0) + r["amount_cents"]
    return out


def findings(ledger):
    return [tuple(r) for r in ledger.conn.execute("SELECT rule, level, employee FROM findings")]


# -- prime sur objectif --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("ca", "bonus"), [(45_000, 0), (55_000, 550_000), (65_000, 1_300_000)])
def test_seed_individual_tiers_apply_to_the_whole_turnover(tmp_path, ca, bonus):
    # prime-sur-objectif.txt: 50-60 k€ -> 10 % of the turnover, 60-70 k€ -> 20 %
    bus, ledger = world(tmp_path, company([person("A", 300_000)], objectives(plan())))
    results(bus, "ventes", "2025", employees={"A": {"ca": ca}})
    assert by_emp(ledger, "prime_objectif").get("A", 0) == bonus
    row = ledger.entitlements.rows(scheme="prime_objectif")
    if row:
        assert (row[0]["dsn_block"], row[0]["dsn_code"]) == ("S21.G00.52", "027")
        assert ledger.entitlements.explanation(row[0])["inputs"]["payroll_month"] == "2026-01"
        assert row[0]["due_date"] == "2026-01-31"


def test_seed_collective_cumulative_conditions_share_equally_among_five(tmp_path):
    # department turnover up 10 % and net result >= 250 000: 5 % of the result shared by 5 people -> 2 500 each
    members = ["A", "B", "C", "D", "E"]
    f = "0.05 * resultat_net if progress(ca_departement) >= 0.10 and resultat_net >= 250000 else 0"
    toml = objectives(
        plan(
            id="dept",
            members=members,
            scope="collective",
            formula=f,
            figures=("ca_departement", "resultat_net"),
            max="5000.00",
        )
    )
    bus, ledger = world(tmp_path, company([person(m, 250_000) for m in members], toml))
    results(bus, "dept", "2024", {"ca_departement": 1_000_000, "resultat_net": 100_000}, id="r2024")
    results(bus, "dept", "2025", {"ca_departement": 1_100_000, "resultat_net": 250_000})
    assert by_emp(ledger, "prime_objectif", "2025") == dict.fromkeys(members, 250_000)
    # 2024 could not be verified (its prior figures were never produced): the maximum was due (O-4)
    assert by_emp(ledger, "prime_objectif", "2024") == dict.fromkeys(members, 500_000)


@pytest.mark.parametrize(
    ("kw", "rule"),
    [({"communicated": "2025-02-15"}, "O-2"), ({"language": "en"}, "O-3")],
)
def test_unenforceable_objectives_make_the_maximum_due_with_a_warning(tmp_path, kw, rule):
    bus, ledger = world(tmp_path, company([person("A", 300_000)], objectives(plan(**kw))))
    f = EventFactory("ACME")
    for m in range(1, 13):
        bus.publish(
            f.period_closed(f"2025-{m:02d}")
        )  # no figures needed: the maximum is due at the period's end
    assert by_emp(ledger, "prime_objectif") == {"A": 2_000_000}
    assert (rule, "warning", "A") in findings(ledger)


def test_missing_figures_make_the_maximum_due(tmp_path):
    bus, ledger = world(
        tmp_path, company([person("A", 300_000), person("B", 300_000)], objectives(plan(members=("A", "B"))))
    )
    results(bus, "ventes", "2025", employees={"A": {"ca": 55_000}})  # B's figures are not produced (O-4)
    assert by_emp(ledger, "prime_objectif") == {"A": 550_000, "B": 2_000_000}
    assert ("O-4", "warning", "B") in findings(ledger)


def test_restated_objective_results_give_corrections(tmp_path):
    bus, ledger = world(tmp_path, company([person("A", 300_000)], objectives(plan())))
    results(bus, "ventes", "2025", employees={"A": {"ca": 55_000}}, id="first")
    e = bus.host.event_types.from_dict(
        {
            "id": "second",
            "type": "objective_results",
            "company": "ACME",
            "occurred_at": "2026-02-10T10:00:00+01:00",
            "payload": {"plan": "ventes", "period": "2025", "employees": {"A": {"ca": 65_000}}},
        }
    )
    bus.publish(e)
    rows = ledger.entitlements.rows(scheme="prime_objectif")
    assert [r["kind"] for r in rows] == ["principal", "correction"]
    assert rows[1]["corrects"] == rows[0]["id"] and rows[1]["amount_cents"] == 1_300_000 - 550_000


@pytest.mark.parametrize(
    ("kinds", "message"),
    [
        (["illness"], "singles out a kind of absence"),
        (["maternity", "illness"], "maternity is a protected absence"),
    ],
)
def test_a_policy_that_singles_out_an_absence_is_refused_at_load(tmp_path, kinds, message):
    with pytest.raises(UserError, match=message):
        world(tmp_path, company([person("A", 300_000)], objectives(plan(), absence_kinds=kinds)))


def test_a_leaver_gets_the_bonus_pro_rata_and_the_payment_date_clause_is_ignored(tmp_path):
    # O-5: acquired pro rata of presence; the condition of presence on the payment date is unenforceable
    bus, ledger = world(
        tmp_path,
        company([person("A", 300_000, end="2025-06-30")], objectives(plan(), presence_on_payment_date=True)),
    )
    results(bus, "ventes", "2025", employees={"A": {"ca": 55_000}}, id="partial")
    bus.publish(EventFactory("ACME").employee_left("A", date(2025, 6, 30)))
    row = ledger.entitlements.rows(scheme="prime_objectif")[0]
    assert row["amount_cents"] == 550_000 * 181 // 365
    # the figures were recorded on 10 January 2026, after the exit: paid with the pay after them (D-8)
    assert row["due_date"] == "2026-02-28"
    assert ("O-5", "warning", None) in findings(ledger)


def ventes(communicated_on="2025-01-06", **kw):
    """The docs' plan `ventes-lyon`: annual, 10 % of the whole turnover from 50 k€, 20 % from 60 k€, at most
    15 000.00 €, communicated on 6 January 2025 unless said otherwise."""
    extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in kw.items())
    return objectives(plan(id="ventes-lyon", max="15000.00", communicated=communicated_on) + extra)


@pytest.mark.parametrize(
    ("communicated", "expected", "warned"),
    [
        ("2025-01-06", 550_000, False),  # P1: within the first twelfth (31 days): the formula, 10 % x 55 000
        ("2025-01-31", 550_000, False),  # the 31st day
        ("2025-02-01", 1_500_000, True),  # P2: the 32nd day: the maximum is due (O-2, Cass. soc. 30/06/2021)
    ],
)
def test_p1_p2_objectives_are_timely_within_the_first_twelfth_of_the_period(
    tmp_path, communicated, expected, warned
):
    # O-2 ("notified at the start of the exercise", Cass. soc. 2/03/2011), D-5: the start is the first twelfth
    # of the period, rounded up (31 days of a year). Before, the docs' own example (6 January) paid the maximum.
    bus, ledger = world(tmp_path, company([person("A", 300_000)], ventes(communicated_on=communicated)))
    results(bus, "ventes-lyon", "2025", employees={"A": {"ca": 55_000}})
    assert by_emp(ledger, "prime_objectif") == {"A": expected}
    assert (("O-2", "warning", "A") in findings(ledger)) is warned
    timing = ledger.entitlements.explanation(ledger.entitlements.rows(scheme="prime_objectif")[0])["inputs"][
        "objectives"
    ]
    assert (timing["grace_days"], timing["last_timely_day"], timing["late"]) == (31, "2025-01-31", warned)


@pytest.mark.parametrize(("communicated", "expected"), [("2025-01-08", 550_000), ("2025-01-09", 1_500_000)])
def test_p3_a_quarter_has_eight_days_of_grace(tmp_path, communicated, expected):
    # D-5: ceil(90 / 12) = 8 days for Q1 2025
    toml = objectives(
        plan(id="ventes-lyon", max="15000.00", communicated=communicated), frequency="quarterly"
    )
    bus, ledger = world(tmp_path, company([person("A", 300_000)], toml))
    results(bus, "ventes-lyon", "2025-01-01..2025-03-31", employees={"A": {"ca": 55_000}})
    assert by_emp(ledger, "prime_objectif") == {"A": expected}


@pytest.mark.parametrize(("fallback", "expected"), [(None, 550_000), ("max", 1_500_000)])
def test_p4_late_contractual_objectives_apply_the_last_agreed_formula(tmp_path, fallback, expected):
    # O-2, D-6: contractual objectives agreed on 1 March: the judge fixes the amount from the contract's criteria
    # and prior agreements (Cass. soc. 4/12/2013 n° 12-25.330): the plan's formula, 10 % x 55 000, with a warning;
    # contractual_fallback = "max" treats them like unilateral ones
    kw = {"nature": "contractual", "communicated_on": "2025-03-01"}
    if fallback:
        kw["contractual_fallback"] = fallback
    bus, ledger = world(tmp_path, company([person("A", 300_000)], ventes(**kw)))
    results(bus, "ventes-lyon", "2025", employees={"A": {"ca": 55_000}})
    assert by_emp(ledger, "prime_objectif") == {"A": expected}
    assert ("O-2", "warning", None if not fallback else "A") in findings(ledger)
    expl = ledger.entitlements.explanation(ledger.entitlements.rows(scheme="prime_objectif")[0])
    assert "D-6" in expl["rules"]


@pytest.mark.parametrize(
    ("mode", "extra", "expected"),
    [
        ("amount", {}, 247_945),  # P5: 5 000.00 x 181 // 365 (O-5)
        ("thresholds", {"cumulative_figures": ["ca"]}, 743_835),  # P6: 50 000 x 365/181 = 100 828.73 -> 20 %
        ("none", {}, 500_000),  # P7: 10 % x 50 000, not prorated again
    ],
)
def test_p5_to_p7_a_leavers_cumulative_figures_are_not_penalised_twice(tmp_path, mode, extra, expected):
    # O-5, O-6, D-7: a leaver on 30 June 2025 (181 of 365 days) with a turnover of 50 000 over his presence.
    # "amount" prorates the amount; "thresholds" compares the turnover with thresholds prorated by presence
    # (the annualised turnover 100 828.73 reaches 20 %: 20 165.75, capped at 15 000.00, x 181/365); "none"
    # leaves the commission on the presence period as it is.
    a = person("A", 300_000, end="2025-06-30")
    bus, ledger = world(tmp_path, company([a], ventes(presence_proration=mode, **extra)))
    results(bus, "ventes-lyon", "2025", employees={"A": {"ca": 50_000}})
    bus.publish(EventFactory("ACME").employee_left("A", date(2025, 6, 30)))
    assert by_emp(ledger, "prime_objectif") == {"A": expected}
    expl = ledger.entitlements.explanation(ledger.entitlements.rows(scheme="prime_objectif")[0])
    assert bus.host.schemes["prime_objectif"].recompute(Explanation.from_dict(expl)) == expected


@pytest.mark.parametrize(("recorded", "due"), [("2026-01-10", "2026-02-28"), ("2025-06-20", "2025-06-30")])
def test_p8_p9_a_leaver_is_paid_with_the_pay_that_follows_the_figures(tmp_path, recorded, due):
    # O-5, D-8: leaver on 30 June 2025; figures recorded on 10 January 2026 -> paid with the February 2026 pay
    # (pay_lag_months = 1), not overdue from the exit; figures recorded on 20 June 2025 -> with the final pay
    a = person("A", 300_000, end="2025-06-30")
    bus, ledger = world(tmp_path, company([a], ventes()))
    bus.publish(EventFactory("ACME").employee_left("A", date(2025, 6, 30)))
    e = bus.host.event_types.from_dict(
        {
            "id": "figs",
            "type": "objective_results",
            "company": "ACME",
            "occurred_at": f"{recorded}T10:00:00+01:00",
            "payload": {"plan": "ventes-lyon", "period": "2025", "employees": {"A": {"ca": "55000"}}},
        }
    )
    bus.publish(e)
    [row] = ledger.entitlements.rows(scheme="prime_objectif")
    assert row["due_date"] == due
    inputs = ledger.entitlements.explanation(row)["inputs"]
    assert inputs["figures_recorded_on"] == recorded and inputs["left_on"] == "2025-06-30"


@pytest.mark.parametrize(
    ("recorded", "due", "month"),
    [
        ("2026-01-20", "2026-01-31", "2026-01"),
        ("2026-02-01", "2026-03-31", "2026-03"),
        ("2026-03-10", "2026-04-30", "2026-04"),
    ],
)
def test_d8_figures_recorded_after_the_normal_pay_are_paid_with_the_pay_that_follows_them(
    tmp_path, recorded, due, month
):
    # D-8, O-5: the 2025 bonus is paid with the January 2026 pay (pay_lag_months = 1) when its figures are known by
    # then; figures recorded on 10 March 2026 cannot have been paid in January: with the pay that follows them,
    # April's (as for a leaver), not due on 31 January 2026 (overdue the day it is recorded) nor exported to a
    # payroll month already closed
    from paybonus.export import rows
    from paybonus.params import Parameters

    bus, ledger = world(tmp_path, company([person("A", 300_000)], ventes()))
    e = bus.host.event_types.from_dict(
        {
            "id": "figs",
            "type": "objective_results",
            "company": "ACME",
            "occurred_at": f"{recorded}T10:00:00+01:00",
            "payload": {"plan": "ventes-lyon", "period": "2025", "employees": {"A": {"ca": "55000"}}},
        }
    )
    bus.publish(e)
    [row] = ledger.entitlements.rows(scheme="prime_objectif")
    assert row["due_date"] == due and row["amount_cents"] == 550_000
    assert ledger.entitlements.explanation(row)["inputs"]["payroll_month"] == month
    [exported] = rows(ledger, Parameters.default(), date(2026, 6, 30), scheme="prime_objectif")
    assert exported["payroll_month"] == month


def test_a_recomputation_after_the_pay_is_due_with_the_payroll_of_its_month(tmp_path):
    # what a recomputation changes (an amended plan) is paid by the payroll of the month it is asked in, as
    # `paybonus export` places it: not due on the original pay's last day, months before it was asked for
    from paybonus.export import rows
    from paybonus.params import Parameters
    from paybonus.sources import store_company

    bus, ledger = world(tmp_path, company([person("A", 300_000)], ventes()))
    results(bus, "ventes-lyon", "2025", employees={"A": {"ca": "55000"}})
    amended = plan(
        id="ventes-lyon",
        max="15000.00",
        communicated="2025-01-06",
        formula="step(ca, [[0, 0], [50000, 0.12], [60000, 0.20]]) * ca",
    )
    store_company(ledger, company([person("A", 300_000)], objectives(amended)))
    e = bus.host.event_types.from_dict(
        {
            "id": "again",
            "type": "recomputation_requested",
            "company": "ACME",
            "occurred_at": "2026-05-05T09:00:00+02:00",
            "payload": {"scheme": "prime_objectif", "period": "2025", "reason": "plan amended"},
        }
    )
    bus.publish(e)
    got = sorted(
        (r["kind"], r["amount_cents"], r["due_date"])
        for r in ledger.entitlements.rows(scheme="prime_objectif")
    )
    assert got == [("correction", 110_000, "2026-05-31"), ("principal", 550_000, "2026-01-31")]
    months = sorted(
        r["payroll_month"]
        for r in rows(ledger, Parameters.default(), date(2026, 6, 30), scheme="prime_objectif")
    )
    assert months == ["2026-01", "2026-05"]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"presence_proration": "thresholds"}, "cumulative_figures: presence_proration = thresholds needs"),
        ({"cumulative_figures": ["ca"]}, "only used with presence_proration = thresholds"),
        ({"presence_proration": "thresholds", "cumulative_figures": ["marge"]}, "'marge' is not one of"),
        ({"communication_grace_days": 120}, "more than a quarter of an annual period"),
        ({"nature": "oral"}, "nature: expected one of"),
    ],
)
def test_objective_plan_keys_are_checked_at_load(tmp_path, kw, message):
    with pytest.raises(UserError, match=message):
        world(tmp_path, company([person("A", 300_000)], ventes(**kw)))


# -- prime NAO -------------------------------------------------------------------------------------------------


def test_seed_nao_two_percent_of_annual_gross(tmp_path):
    # prime-nao.txt: 2 % of 30 000 gross gives 600
    bus, ledger = world(tmp_path, company([person("A", 250_000)], nao('percent_of_gross = "0.02"\n')))
    close(bus)
    assert by_emp(ledger, "prime_nao") == {"A": 60_000}
    assert ledger.entitlements.rows(scheme="prime_nao")[0]["dsn_code"] == "028"


def test_seed_nao_seniority_brackets(tmp_path):
    # prime-nao.txt: under 2 years 300, 2 to 5 years 500, over 5 years 800 (seniority at the end of 2025)
    people = [
        person("NEW", 250_000, start="2024-06-01"),
        person("MID", 250_000, start="2022-01-01"),
        person("OLD", 250_000, start="2015-01-01"),
    ]
    bus, ledger = world(tmp_path, company(people, nao('seniority = [[0, "300"], [2, "500"], [5, "800"]]\n')))
    close(bus)
    assert by_emp(ledger, "prime_nao") == {"NEW": 30_000, "MID": 50_000, "OLD": 80_000}


def test_nao_flat_categories_part_time_and_instalments(tmp_path):
    award = (
        'flat = "500.00"\ncategories = { cadre = "1.5" }\n'
        'instalments = [{ date = 2025-06-30, share = "0.5" }, { date = 2025-12-31, share = "0.5" }]\n'
    )
    people = [
        person("C", 400_000, category="cadre"),
        person("P", 125_000, hours="75.84"),
        person("F", 250_000),
    ]
    bus, ledger = world(tmp_path, company(people, nao(award)))
    close(bus, range(1, 7))
    assert by_emp(ledger, "prime_nao") == {"C": 37_500, "P": 12_500, "F": 25_000}  # P: working time 0.5000
    close(bus, range(7, 13))
    rows = ledger.entitlements.rows(scheme="prime_nao")
    assert by_emp(ledger, "prime_nao") == {"C": 75_000, "P": 25_000, "F": 50_000}
    assert sorted({r["due_date"] for r in rows}) == ["2025-06-30", "2025-12-31"]


def test_a_month_closed_again_changes_nothing_or_corrects_its_instalment(tmp_path):
    # N-1: an instalment is owed once; a payroll corrected after the close and the month closed again (a new close
    # event) gives the difference as a correction of that instalment, citing the new close. It was an
    # IntegrityError (the instalment's ids do not depend on the close event), a failed dispatch.
    from paybonus.sources import store_company

    award = (
        'flat = "500.00"\n'
        'instalments = [{ date = 2025-06-30, share = "0.5" }, { date = 2025-12-31, share = "0.5" }]\n'
    )
    bus, ledger = world(tmp_path, company([person("A", 250_000), person("B", 250_000)], nao(award)))
    close(bus)
    rows = len(ledger.entitlements.rows(scheme="prime_nao"))
    f = EventFactory("ACME")
    out = bus.publish(f.period_closed("2025-12", id="close-2025-12-again"))
    assert [d.error for d in out.dispatches if d.scheme == "prime_nao"] == [None]
    assert [d.status for d in out.dispatches if d.scheme == "prime_nao"] == ["completed"]
    assert len(ledger.entitlements.rows(scheme="prime_nao")) == rows  # nothing changed: nothing new
    assert by_emp(ledger, "prime_nao") == {"A": 50_000, "B": 50_000}

    store_company(ledger, company([person("A", 250_000), person("B", 125_000, hours="75.84")], nao(award)))
    out = bus.publish(f.period_closed("2025-12", id="close-2025-12-corrected"))
    assert [d.status for d in out.dispatches if d.scheme == "prime_nao"] == ["completed"]
    # B at half time the whole year (the corrected payroll): each instalment at half time, 12 500 each; the
    # December close corrects its instalment and brings the June one up to date (the instalments add up to the
    # award, N-1)
    fixes = [r for r in ledger.entitlements.rows(scheme="prime_nao") if r["kind"] == "correction"]
    assert [(f["employee"], f["amount_cents"]) for f in fixes] == [("B", -12_500), ("B", -12_500)]
    assert {f["event_id"] for f in fixes} == {"close-2025-12-corrected"} and all(f["corrects"] for f in fixes)
    assert by_emp(ledger, "prime_nao") == {"A": 50_000, "B": 25_000}
    assert ledger.dispatches.failed() == []
    from paybonus.audit import verify

    assert verify(ledger, bus.host.schemes).ok  # the correction is recomputed from what is stored


@pytest.mark.parametrize(
    ("award", "hired", "expected"),
    [
        # N-1: a flat 600.00 for the year, in two halves; hired on 1 July, after the June instalment was
        # computed: 600.00 x 184/365 = 302.46, of which only the December half (151.23) was ever recorded
        ('flat = "600.00"\n', True, {"A": 60_000, "H": 30_246}),
        # 2 % of the year's gross, 30 000.00: 600.00; the June instalment was computed on the gross loaded by
        # then (January to June, 15 000.00): 150.00 + 300.00 = 450.00 were recorded
        ('percent_of_gross = "0.02"\n', False, {"A": 60_000}),
    ],
)
def test_nao_instalments_add_up_to_the_award_when_the_payroll_grows_between_them(
    tmp_path, award, hired, expected
):
    # a payroll loaded month by month, as a vendor does: the later instalment brings the earlier one up to what
    # the award now gives (a correction citing its close), so the instalments add up to the award (N-1)
    from attrs import evolve
    from paybonus.audit import verify
    from paybonus.sources import store_company

    award += 'instalments = [{ date = 2025-06-30, share = "0.5" }, { date = 2025-12-31, share = "0.5" }]\n'
    year = company([person("A", 250_000)], nao(award))
    first_half = evolve(year, pay_lines=[p for p in year.pay_lines if p[1] < "2025-07-01"])
    bus, ledger = world(tmp_path, first_half)
    close(bus, range(1, 7))
    people = [person("A", 250_000)] + ([person("H", 250_000, start="2025-07-01")] if hired else [])
    store_company(ledger, company(people, nao(award)))
    close(bus, range(7, 13))
    assert by_emp(ledger, "prime_nao") == expected
    assert ledger.dispatches.failed() == []
    assert verify(ledger, bus.host.schemes).ok
    from paybonus.replay import replay

    assert replay(ledger, bus.host).problems == []


def test_an_instalment_computed_for_someone_new_after_its_month_goes_to_a_payroll_still_open(tmp_path):
    # hired 1 July: the June instalment, computed at the December close (its event of 5 January 2026), was exported
    # to the payroll of June 2025, long closed: no payroll would pay it. Like a correction, it goes to the payroll
    # of the month its event occurred in; the instalments computed on time keep their month
    from datetime import date

    from attrs import evolve
    from paybonus.export import rows
    from paybonus.params import Parameters
    from paybonus.sources import store_company

    award = 'flat = "600.00"\ninstalments = [{ date = 2025-06-30, share = "0.5" }, { date = 2025-12-31, share = "0.5" }]\n'
    year = company([person("A", 250_000)], nao(award))
    bus, ledger = world(tmp_path, evolve(year, pay_lines=[p for p in year.pay_lines if p[1] < "2025-07-01"]))
    close(bus, range(1, 7))
    store_company(
        ledger, company([person("A", 250_000), person("H", 250_000, start="2025-07-01")], nao(award))
    )
    close(bus, range(7, 13))
    months = {
        (r["employee"], r["due_date"]): r["payroll_month"]
        for r in rows(ledger, Parameters.default(), date(2026, 1, 31), scheme="prime_nao")
    }
    assert months == {
        ("A", "2025-06-30"): "2025-06",
        ("A", "2025-12-31"): "2025-12",
        ("H", "2026-01-31"): "2026-01",  # and due when that payroll ends, not overdue the day it is recorded
        ("H", "2025-12-31"): "2025-12",
    }


def test_nao_presence_conditions_apply_to_all_and_protected_absences_never_exclude(tmp_path):
    award = 'flat = "500.00"\npresent_on = 2025-12-31\nmin_presence_days = 200\n'
    people = [
        person(
            "MAT", 250_000, absences=(("maternity", "2025-03-01", "2025-10-31"),)
        ),  # protected: counts as present
        person(
            "ILL", 250_000, absences=(("illness", "2025-03-01", "2025-10-31"),)
        ),  # 245 days absent: below 200 present
        person("LEFT", 250_000, end="2025-11-30"),  # not under contract on 31 December
    ]
    bus, ledger = world(tmp_path, company(people, nao(award, absences="prorate")))
    close(bus)
    assert by_emp(ledger, "prime_nao") == {"MAT": 50_000}


def unpaid(data, employee, months, gross=0):
    """The pay lines of `months` ("2025-03-01", ...) paid `gross` (daily allowances replace the salary)."""
    data.pay_lines[:] = [
        (e, m, gross if e == employee and m in months else g, *r) for e, m, g, *r in data.pay_lines
    ]
    return data


SPRING = ("2025-03-01", "2025-04-01", "2025-05-01", "2025-06-01")


@pytest.mark.parametrize(
    ("kind", "reconstituted", "basis", "expected"),
    [
        ("maternity", True, None, 72_000),  # N1: 0.02 x 12 x 3 000.00 (was 0.02 x 8 x 3 000.00 = 480.00)
        ("maternity", False, None, 72_000),  # N2: no reconstituted salary: the base salary stands in
        ("illness", False, None, 48_000),  # N3: not protected: the gross actually paid
        ("illness", False, "all_absences", 72_000),  # N4: the agreement neutralises every absence
        ("maternity", False, "actual", 48_000),  # the former computation, on purpose (warned)
    ],
)
def test_n1_to_n4_nao_percent_of_gross_counts_protected_months_at_full_salary(
    tmp_path, kind, reconstituted, basis, expected
):
    # N-4, O-7, docs/rules.md D-2: 2 % of the 2025 gross; 3 000.00 a month; March-June absent, paid 0 (daily
    # allowances), as intéressement's reconstituted salary (I-26)
    rec = {f"2025-{m:02d}": 300_000 for m in (3, 4, 5, 6)} if reconstituted else None
    a = person("A", 300_000, absences=((kind, "2025-03-01", "2025-06-30"),), reconstituted=rec)
    award = 'percent_of_gross = "0.02"\n' + (f'gross_basis = "{basis}"\n' if basis else "")
    bus, ledger = world(tmp_path, unpaid(company([a], nao(award)), "A", SPRING))
    close(bus)
    assert by_emp(ledger, "prime_nao") == {"A": expected}
    expl = ledger.entitlements.explanation(ledger.entitlements.rows(scheme="prime_nao")[0])
    assert expl["inputs"]["gross_cents"] == 2_400_000
    assert expl["inputs"]["gross_used_cents"] == expected * 50
    assert "D-2" in expl["rules"]
    if expected == 72_000:
        months = expl["inputs"]["reconstituted_months"]
        assert [m["month"] for m in months] == ["2025-03", "2025-04", "2025-05", "2025-06"]
        assert {m["source"] for m in months} == {"reconstituted" if reconstituted else "base_salary"}
    if basis == "actual":
        assert ("N-4", "warning", None) in findings(ledger)


def test_n5_a_work_accident_month_partly_paid_counts_at_full_salary(tmp_path):
    # N-4, D-2: work accident 10-31 March 2025, March gross 870.96 (9/31 paid), no reconstituted salary:
    # March counts max(870.96, 3 000.00 x 31/31) -> 0.02 x 36 000.00 = 720.00
    a = person("A", 300_000, absences=(("work_accident", "2025-03-10", "2025-03-31"),))
    bus, ledger = world(
        tmp_path, unpaid(company([a], nao('percent_of_gross = "0.02"\n')), "A", SPRING[:1], 87_096)
    )
    close(bus)
    assert by_emp(ledger, "prime_nao") == {"A": 72_000}


# -- PMT -------------------------------------------------------------------------------------------------------

PMT = (
    HEAD
    + """
[schemes.pmt]
frequency = "{frequency}"

[[schemes.pmt.criteria]]
id = "cert"
label = "Certification constructeur"
points = 10
validity_months = 24

[[schemes.pmt.criteria]]
id = "transmission"
label = "Tutorat d'un apprenti"
points = 5

[[schemes.pmt.levels]]
name = "confirmé"
min_points = 10
amount = "{amount}"

[[schemes.pmt.levels]]
name = "expert"
min_points = 15
rate = "{rate}"
"""
)


def evidence(bus, emp, criterion, on, approved=True, id=None):
    e = bus.host.event_types.from_dict(
        {
            "id": id or f"ev-{emp}-{criterion}-{on}",
            "type": "pmt_evidence_recorded",
            "company": "ACME",
            "occurred_at": f"{max(on, '2025-01-02')}T10:00:00+01:00",  # reported once obtained
            "payload": {
                "employee": emp,
                "criterion": criterion,
                "obtained_on": on,
                "approver": "DRH",
                "approved": approved,
            },
        }
    )
    bus.publish(e)


def test_pmt_levels_rest_on_approved_evidence(tmp_path):
    people = [person("X", 400_000), person("Y", 300_000), person("Z", 300_000), person("N", 300_000)]
    bus, ledger = world(
        tmp_path, company(people, PMT.format(frequency="annual", amount="1200.00", rate="0.10"))
    )
    evidence(bus, "X", "cert", "2024-05-01")
    evidence(bus, "X", "transmission", "2025-02-01")
    evidence(bus, "Y", "cert", "2025-03-01")
    evidence(bus, "Z", "cert", "2025-03-01", approved=False)  # not approved: no award
    evidence(bus, "N", "cert", "2022-01-01")  # expired before 2025
    close(bus)
    assert by_emp(ledger, "pmt") == {"X": 480_000, "Y": 120_000}  # expert: 10 % of 48 000; confirmé: 1 200
    ev = ledger.entitlements.explanation(ledger.entitlements.rows(employee="X")[0])["inputs"]["evidence"]
    assert {e["criterion"] for e in ev} == {"cert", "transmission"} and all(
        e["approver"] == "DRH" for e in ev
    )


def test_pmt_evidence_recorded_after_the_close_still_counts(tmp_path):
    # order of events does not matter: the award converges to what the evidence supports
    bus, ledger = world(
        tmp_path,
        company([person("X", 400_000)], PMT.format(frequency="annual", amount="1200.00", rate="0.10")),
    )
    evidence(bus, "X", "cert", "2025-03-01")
    close(bus)
    assert by_emp(ledger, "pmt") == {"X": 120_000}
    evidence(bus, "X", "transmission", "2025-06-01")  # recorded late: now expert, 10 % of 48 000
    rows = ledger.entitlements.rows(scheme="pmt")
    assert [r["kind"] for r in rows] == ["principal", "correction"] and rows[1]["corrects"] == rows[0]["id"]
    assert by_emp(ledger, "pmt") == {"X": 480_000}
    bus2, ledger2 = world(
        tmp_path,
        company([person("X", 400_000)], PMT.format(frequency="annual", amount="1200.00", rate="0.10")),
    )
    evidence(bus2, "X", "cert", "2025-03-01")
    evidence(bus2, "X", "transmission", "2025-06-01")
    close(bus2)
    assert by_emp(ledger2, "pmt") == {"X": 480_000}


@pytest.mark.parametrize("first", [True, False])
def test_pmt_evidence_recorded_after_the_pay_is_due_with_the_payroll_of_its_month(tmp_path, first):
    # evidence of 2025 reported on 10 March 2026, after the 2025 award's pay (January 2026): the award it gives
    # (first) or the correction it makes is paid by March's payroll, as `paybonus export` places it, and due at
    # its end, not on 31 January (overdue the day it is recorded)
    from paybonus.export import rows
    from paybonus.params import Parameters

    bus, ledger = world(
        tmp_path,
        company([person("X", 400_000)], PMT.format(frequency="annual", amount="1200.00", rate="0.10")),
    )
    if not first:
        evidence(bus, "X", "cert", "2025-03-01")
    close(bus)
    late = bus.host.event_types.from_dict(
        {
            "id": "late",
            "type": "pmt_evidence_recorded",
            "company": "ACME",
            "occurred_at": "2026-03-10T10:00:00+01:00",
            "payload": {
                "employee": "X",
                "criterion": "transmission" if not first else "cert",
                "obtained_on": "2025-06-01",
                "approver": "DRH",
                "approved": True,
            },
        }
    )
    bus.publish(late)
    got = [(r["kind"], r["due_date"]) for r in ledger.entitlements.rows(scheme="pmt")]
    exported = [
        r["payroll_month"] for r in rows(ledger, Parameters.default(), date(2026, 6, 30), scheme="pmt")
    ]
    if first:
        assert got == [("principal", "2026-03-31")] and exported == ["2026-03"]
    else:
        assert got == [("principal", "2026-01-31"), ("correction", "2026-03-31")]
        assert exported == ["2026-01", "2026-03"]


def test_pmt_rate_outside_the_policy_range_is_refused(tmp_path):
    with pytest.raises(UserError, match="outside the policy range"):
        world(tmp_path, company([person("X", 1)], PMT.format(frequency="annual", amount="1.00", rate="0.20")))


def test_pmt_monthly_is_paid_pro_rata_to_a_leaver(tmp_path):
    bus, ledger = world(
        tmp_path,
        company(
            [person("X", 300_000, end="2025-03-15")],
            PMT.format(frequency="monthly", amount="100.00", rate="0.10"),
        ),
    )
    evidence(bus, "X", "cert", "2025-01-01")
    close(bus, range(1, 4))
    rows = ledger.entitlements.rows(scheme="pmt")
    assert [r["amount_cents"] for r in rows] == [10_000, 10_000, 10_000 * 15 // 31]
    assert rows[-1]["due_date"] == "2025-03-31"


# -- properties shared by the three ------------------------------------------------------------------------

absence_kinds = st.sampled_from(
    ["illness", "unpaid_leave", "strike", "maternity", "paternity", "work_accident", "adoption"]
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.tuples(absence_kinds, st.integers(0, 300), st.integers(0, 60)), max_size=3),
    st.integers(1, 365),
    st.sampled_from(["prorate", "ignore"]),
)
def test_proration_never_raises_protected_absences_never_lower_and_leavers_get_pro_rata(
    tmp_path, absences, stay, policy
):
    from datetime import timedelta

    start = date(2025, 1, 1)
    spans = tuple(
        (k, (start + timedelta(days=s)).isoformat(), (start + timedelta(days=min(364, s + d))).isoformat())
        for k, s, d in absences
    )
    end = (start + timedelta(days=stay - 1)).isoformat() if stay < 365 else None
    protected_only = tuple(
        a for a in spans if a[0] in ("maternity", "paternity", "work_accident", "adoption")
    )
    people = [
        person("FULL", 300_000),
        person("ABS", 300_000, absences=spans),
        person("PROT", 300_000, absences=protected_only),
        person("LEFT", 300_000, end=end),
    ]
    bus, ledger = world(
        tmp_path, company(people, objectives(plan(members=("FULL", "ABS", "PROT", "LEFT")), absences=policy))
    )
    results(bus, "ventes", "2025", employees={m: {"ca": 65_000} for m in ("FULL", "ABS", "PROT", "LEFT")})
    got = by_emp(ledger, "prime_objectif")
    full = got["FULL"]
    assert full == 1_300_000
    assert got.get("ABS", 0) <= full  # proration never raises an amount
    assert got["PROT"] == full  # protected absences never lower one
    assert got.get("LEFT", 0) == full * stay // 365  # a leaver: the full-period amount pro rata of presence
    ledger.close()


def test_a_leaver_recorded_after_the_pay_is_corrected_with_the_payroll_that_exports_it(tmp_path):
    # O-5, D-8: A's 2025 bonus (figures 10 January 2026) is paid in January 2026, 5 500.00. His departure on
    # 30 June 2025 is recorded on 15 March 2026: the bonus is prorated (O-5) and the correction is recovered by
    # the payroll `paybonus export` puts it in, March 2026 (the month the event occurred in, January and
    # February being closed); its due date must be in that month, not 28 February 2026 (figures' month + lag)
    from paybonus.audit import verify
    from paybonus.export import rows
    from paybonus.params import Parameters
    from paybonus.sources import store_company

    bus, ledger = world(tmp_path, company([person("A", 300_000)], ventes()))
    results(bus, "ventes-lyon", "2025", employees={"A": {"ca": "55000"}})
    store_company(ledger, company([person("A", 300_000, end="2025-06-30")], ventes()))  # HR data updated
    e = bus.host.event_types.from_dict(
        {
            "id": "left-late",
            "type": "employee_left",
            "company": "ACME",
            "occurred_at": "2026-03-15T09:00:00+01:00",
            "payload": {"employee": "A", "left_on": "2025-06-30"},
        }
    )
    bus.publish(e)
    got = {
        r["id"]: (r["kind"], r["amount_cents"], r["due_date"])
        for r in ledger.entitlements.rows(scheme="prime_objectif")
    }
    exported = {
        r["entitlement"]: (r["kind"], r["due_date"][:7], r["payroll_month"])
        for r in rows(ledger, Parameters.default(), date(2026, 6, 30), scheme="prime_objectif")
    }
    assert sorted(k for k, _, _ in got.values()) == ["correction", "principal"], got
    for kind, due_month, month in exported.values():
        assert due_month == month, (kind, due_month, month, got)
    assert verify(ledger, bus.host.schemes).ok
    from paybonus.replay import replay

    assert replay(ledger, bus.host).problems == []


def test_pmt_a_correction_a_month_closed_again_records_is_due_in_the_month_export_recovers_it(tmp_path):
    # O-5: X's 2025 award (4 800.00, 10 % of 48 000.00) is paid in January 2026. His departure on 30 June 2025 is
    # entered in the payroll data and December 2025 closed again on 5 May 2026: the award is prorated and the
    # correction is recovered by May 2026's payroll (export: a correction goes no earlier than its event's
    # month); its due date must be in May 2026 too, not 31 January 2026 (overdue the day it is recorded)
    from datetime import datetime, timedelta, timezone

    from paybonus.audit import verify
    from paybonus.export import rows
    from paybonus.params import Parameters
    from paybonus.sources import store_company

    text = PMT.format(frequency="annual", amount="1200.00", rate="0.10")
    bus, ledger = world(tmp_path, company([person("X", 400_000)], text))
    evidence(bus, "X", "cert", "2025-03-01")
    close(bus)
    store_company(ledger, company([person("X", 400_000, end="2025-06-30")], text))
    at = datetime(2026, 5, 5, 9, tzinfo=timezone(timedelta(hours=2)))
    bus.publish(EventFactory("ACME").period_closed("2025-12", id="reclose", at=at))
    got = sorted((r["kind"], r["due_date"][:7]) for r in ledger.entitlements.rows(scheme="pmt"))
    assert [k for k, _ in got] == ["correction", "principal"], got
    exported = {
        r["kind"]: (r["due_date"][:7], r["payroll_month"])
        for r in rows(ledger, Parameters.default(), date(2026, 6, 30), scheme="pmt")
    }
    assert exported["correction"] == ("2026-05", "2026-05"), exported
    assert verify(ledger, bus.host.schemes).ok
    from paybonus.replay import replay

    assert replay(ledger, bus.host).problems == []
