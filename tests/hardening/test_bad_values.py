"""Issue 13, "bad values accepted": what would fail or mis-pay at compute time is refused when the company is
loaded or the event published (one line naming the key, exit 2, nothing written)."""

from __future__ import annotations

import json

import pytest
from helpers.hostile import attempt, cli, ledger_digest

NAO = 'flat = "150.00"'
SENIORITY = 'seniority = [[0, "100"], [2, "200"], [5, "350"]]'
CATEGORIES = 'categories = { cadre = "0.8" }'
INSTALMENTS = 'instalments = [{ date = 2025-06-30, share = "0.5" }, { date = 2025-12-31, share = "0.5" }]'

BAD_CONFIG = {
    "fiscal_year_start 02-30": ('fiscal_year_start = "01-01"', 'fiscal_year_start = "02-30"'),
    "fiscal_year_start 04-31": ('fiscal_year_start = "01-01"', 'fiscal_year_start = "04-31"'),
    "negative NAO flat": (NAO, 'flat = "-150.00"'),
    "negative NAO coefficient": (CATEGORIES, 'categories = { cadre = "-0.8" }'),
    "huge NAO coefficient": (CATEGORIES, 'categories = { cadre = "1e9" }'),
    "negative NAO seniority amount": (SENIORITY, 'seniority = [[0, "-100"], [2, "200"]]'),
    "negative NAO seniority years": (SENIORITY, 'seniority = [[-3, "100"], [2, "200"]]'),
    "instalment share 2 and -1": (
        INSTALMENTS,
        'instalments = [{ date = 2025-06-30, share = "2" }, { date = 2025-12-31, share = "-1" }]',
    ),
    "negative PMT points": ("points = 10\n", "points = -10\n"),
    "PMT validity 999999999999 months": ("validity_months = 36", "validity_months = 999999999999"),
    "PMT validity 0 months": ("validity_months = 36", "validity_months = 0"),
    "negative PMT min_points": ("min_points = 10", "min_points = -10"),
    "objective max 1e20": ('max_amount = "1500.00"', 'max_amount = "100000000000000000000.00"'),
    # a TOML literal string: the same 50 MB value reaches the check, without tomllib's character-by-character
    # reading of a basic string (17 s under coverage, 3 s as a literal)
    "company name of 50 MB": ('name = "Atelier Durand SAS"', "name = '" + "A" * 50_000_000 + "'"),
    "company name of 20 000 characters": ('name = "Atelier Durand SAS"', 'name = "' + "A" * 20_000 + '"'),
    "headcount 10^30": ("headcount = 32", "headcount = 1000000000000000000000000000000"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIG))
def test_bad_configuration_refused_at_load(work, case):
    old, new = BAD_CONFIG[case]
    line = attempt(case, work.fresh, "load", str(work.toml(old, new)))
    assert "company.toml" in line


def event(type_, payload, id_="hostile-1", company="DURAND"):
    return json.dumps(
        {
            "id": id_,
            "type": type_,
            "company": company,
            "occurred_at": "2026-02-01T10:00:00+01:00",
            "payload": payload,
        }
    )


def results(employees=None, figures=None, plan="techniciens", period="2025"):
    return event(
        "objective_results",
        {"plan": plan, "period": period, "figures": figures or {}, "employees": employees or {}},
    )


BAD_EVENTS = {
    "objective figure 1e999999": results({"E0004": {"interventions": "1e999999"}}),
    "objective figure 10^30": results({"E0004": {"interventions": "1" + "0" * 30}}),
    "objective figure -1e999999": results({"E0004": {"interventions": "-1e999999"}}),
    "objective figure 1e-999999": results({"E0004": {"interventions": "1e-999999"}}),
    "objective figure NaN": results({"E0004": {"interventions": "NaN"}}),
    "objective figure not declared": results({"E0004": {"interventions": "10", "bogus": "5"}}),
    "objective unknown plan": results({"E0004": {"interventions": "10"}}, plan="nope"),
    # a mistyped id (letter O for zero): E0005's figures would be dropped and E0005 paid the maximum (O-4)
    "objective figures of a non-member": results(
        {"E0004": {"interventions": "10"}, "E0O05": {"interventions": "9"}}
    ),
    "collective figure not declared": results(figures={"ca_groupe": "1", "bogus": "2"}, plan="direction"),
    # an id the company does not have (a typo, another company's): recorded, it computed nothing, for anyone
    "departure of an unknown employee": event(
        "employee_left", {"employee": "E9999", "left_on": "2025-06-30"}
    ),
    "PMT evidence of an unknown employee": event(
        "pmt_evidence_recorded",
        {
            "employee": "E9999",
            "criterion": "tutorat",
            "obtained_on": "2025-06-01",
            "approver": "DRH",
            "approved": True,
            "reference": "r-1",
        },
    ),
    "period 0001..9999": event("period_closed", {"period": "0001-01-01..9999-12-31"}),
    "annual close after the monthly ones": event("period_closed", {"period": "2025"}),
    "close of half a month": event("period_closed", {"period": "2025-01-01..2025-01-15"}),
    "close in year 9999": event("period_closed", {"period": "9999-12"}),
    "supplement of 10^20 cents": event(
        "supplement_decided", {"exercise": "2025", "amount_cents": 10**20, "decided_on": "2026-02-01"}
    ),
    "supplement of 2^63-1 cents": event(
        "supplement_decided", {"exercise": "2025", "amount_cents": 2**63 - 1, "decided_on": "2026-02-01"}
    ),
    "payment of 2^63-1 cents": event(
        "payment_recorded", {"entitlement": "x", "amount_cents": 2**63 - 1, "paid_on": "2026-05-01"}
    ),
    "results figure 1e999999": event(
        "results_published", {"period": "2025", "figures": {"rcai": "1e999999"}}
    ),
    "an integer of 5000 digits": event(
        "results_published", {"period": "2025", "figures": {"rcai": 0}}
    ).replace('"rcai": 0', '"rcai": ' + "9" * 5000),
}


@pytest.mark.parametrize("case", sorted(BAD_EVENTS))
def test_bad_event_refused_at_publish(work, case):
    f = work.file("bad.jsonl", BAD_EVENTS[case] + "\n")
    line = attempt(case, work.db, "publish", str(f))
    assert "bad.jsonl:1" in line


@pytest.mark.parametrize(
    ("type_", "payload", "field"),
    [
        (
            "interessement_overpayment_recovered",
            {
                "entitlement": "ENT-x",
                "amount_cents": 100,
                "recovered_on": "2062-02-01",
                "net_pay_cents": 180_000,
            },
            "recovered_on",
        ),
        (
            "pmt_evidence_recorded",
            {"employee": "E0004", "criterion": "tutorat", "obtained_on": "2062-02-01", "approver": "DRH"},
            "obtained_on",
        ),
        (
            "supplement_decided",
            {"exercise": "2025", "amount_cents": 100, "decided_on": "2062-02-01"},
            "decided_on",
        ),
    ],
)
def test_a_reported_date_after_the_month_following_the_event_is_refused(work, type_, payload, field):
    # a typo of the year (2062 for 2026), recorded for good: a deduction, evidence or decision reports what
    # already happened, as a payment's date does (`events.not_ahead`)
    f = work.file("typo.jsonl", event(type_, payload) + "\n")
    line = attempt(type_, work.db, "publish", str(f))
    assert (
        f"typo.jsonl:1: payload.{field}: 2062-02-01 is after 2026-03-31, the end of the month following the event "
        "(occurred_at 2026-02-01)" in line
    )


def test_objective_figure_1e999999_never_pays_the_maximum(work):
    """The worst case of the issue: the overflow read as "objective failed, maximum due" paid 1 500 €."""
    f = work.file(
        "bad.jsonl",
        results(
            {"E0004": {"interventions": "1e999999"}},
        )
        + "\n",
    )
    before = ledger_digest(work.db)
    code, _out, err = cli("--db", str(work.db), "publish", str(f))
    assert code == 2 and ledger_digest(work.db) == before, err


CENTS = '[pass_annual]\nlabel = "PASS"\nunit = "cents"\nlaw = "LAW 0.1"\nsource = "test"\n'
RATE = '[csg_total]\nlabel = "CSG"\nunit = "rate"\nlaw = "LAW 0.3"\nsource = "test"\n'
NEGATIVE_PARAMS = {
    "negative PASS": CENTS + "values = [{ from = 2026-01-01, value = -4806000 }]\n",
    "PASS 10^20 cents": CENTS + "values = [{ from = 2026-01-01, value = 100000000000000000000 }]\n",
    "PASS from year 1001": CENTS + "values = [{ from = 1001-01-01, value = 4806000 }]\n",
    "PASS as a rate": CENTS.replace('"cents"', '"rate"')
    + 'values = [{ from = 2026-01-01, value = "0.5" }]\n',
    "negative CSG rate": RATE + 'values = [{ from = 2026-01-01, value = "-0.092" }]\n',
    "CSG rate in percent": RATE + 'values = [{ from = 2026-01-01, value = "9.2" }]\n',
    "CSG rate NaN": RATE + 'values = [{ from = 2026-01-01, value = "NaN" }]\n',
    "CSG rate Infinity": RATE + 'values = [{ from = 2026-01-01, value = "Infinity" }]\n',
    "CSG rate 1e-999999": RATE + 'values = [{ from = 2026-01-01, value = "1e-999999" }]\n',
}


@pytest.mark.parametrize("case", sorted(NEGATIVE_PARAMS))
def test_bad_legal_parameters_refused(work, case):
    p = work.file("params.toml", NEGATIVE_PARAMS[case])
    line = attempt(case, work.db, "--params", str(p), "entitlements", "--company", "DURAND")
    assert "params.toml" in line
