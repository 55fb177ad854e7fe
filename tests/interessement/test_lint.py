"""`paybonus lint`: compliance findings with their rule ids (LAW I-1, I-2, I-3, I-8, I-9, I-13, I-15)."""

import json

import pytest
from helpers.hostile import cli

BASE = """[company]
id = "X"
name = "X SAS"
{company}

[schemes.interessement]
starts_on = {starts}
signed_on = {signed}
deposited_on = {deposited}
period_months = {months}
seniority_months = {seniority}
formula = "{formula}"
{extra}

[[schemes.interessement.distribution]]
criterion = "salary"
share = "1"
"""


def lint(tmp_path, **kw):
    values = {
        "signed": "2025-03-01",
        "deposited": "2025-03-10",
        "months": 12,
        "seniority": 3,
        "formula": "brackets(rcai, [[0, 0], [50000, 0.1]])",
        "extra": "",
        "company": "headcount = 10",
        "starts": "2025-01-01",
    }
    values.update(kw)
    d = tmp_path / "co"
    d.mkdir(exist_ok=True)
    (d / "company.toml").write_text(BASE.format(**values))
    code, out, err = cli("lint", str(d), "--format", "json")  # in this process: the command's own main()
    assert "Traceback" not in err, err
    return code, json.loads(out)


def rules(findings, level="error"):
    return sorted(f["rule"] for f in findings if f["level"] == level)


def test_a_lawful_agreement_has_no_error(tmp_path):
    code, findings = lint(tmp_path)
    assert code == 0 and rules(findings) == []


@pytest.mark.parametrize(
    ("kw", "rule"),
    [
        ({"formula": "0.03 * payroll"}, "I-1"),  # flat % of salaries (formules interdites)
        ({"formula": "0.03 * chiffre_affaires"}, "I-1"),  # flat % of turnover
        ({"formula": "pct(3) * valeur_ajoutee"}, "I-1"),  # flat % of value added
        ({"formula": "0.05 * ebe"}, "I-1"),  # flat % of EBE
        ({"formula": "10000 + 0.1 * above(rcai, 0)"}, "I-3"),  # can never give zero
        ({"seniority": 4}, "I-13"),
        ({"extra": 'presence_conditions = ["present at the payment date"]'}, "I-15"),
        ({"months": 5}, "I-2"),
        ({"months": 2}, "I-2"),
        ({"signed": "2025-07-01"}, "I-8"),  # annual period from 1 January: sign before 1 July
        ({"deposited": "2025-07-16"}, "I-9"),  # 15 days after 30 June at the latest
        # starting in March, the first whole period is 2026: signed on 1 July 2026, in its second half
        ({"starts": "2025-03-01", "signed": "2026-07-01", "deposited": "2026-07-02"}, "I-8"),
        # a spouse's base above a quarter of the PASS (11 775.00 in 2025, L3314-6)
        (
            {
                "extra": 'company_heads = [{ id = "S", role = "spouse", in_office_from = 2019-01-01, '
                'spouse_base = "12000.00" }]'
            },
            "I-24",
        ),
    ],
)
def test_each_unlawful_clause_is_an_error_citing_its_rule(tmp_path, kw, rule):
    code, findings = lint(tmp_path, **kw)
    assert code == 1
    assert rule in rules(findings)


def test_quarter_periods_must_be_signed_in_the_first_half_quarter(tmp_path):
    assert "I-8" not in rules(lint(tmp_path, months=6, signed="2025-03-31", deposited="2025-04-01")[1])
    assert "I-8" in rules(lint(tmp_path, months=6, signed="2025-04-01", deposited="2025-04-02")[1])


def test_percentage_above_a_threshold_is_not_flat(tmp_path):
    code, findings = lint(tmp_path, formula="0.03 * above(valeur_ajoutee, 2000000)")
    assert code == 0, findings


HISTORY = """
[[schemes.interessement.history]]
period = "{y}"
figures = {{ rcai = "{v}" }}
"""


def test_alea_warning_when_the_formula_would_have_paid_every_year(tmp_path):
    hist = "".join(HISTORY.format(y=y, v=v) for y, v in ((2022, 80000), (2023, 90000), (2024, 120000)))
    code, findings = lint(tmp_path, extra=hist)
    assert code == 0 and rules(findings, "warning") == ["I-1"]
    hist = "".join(HISTORY.format(y=y, v=v) for y, v in ((2022, 80000), (2023, 20000), (2024, 120000)))
    assert rules(lint(tmp_path, extra=hist)[1], "warning") == []


# -- duration, renewal and set-up (LAW I-7, L3312-5) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"extra": "ends_on = 2030-12-31"}, "more than 60 months (72)"),  # L1: five years at most since 2022
        ({"extra": "ends_on = 2025-06-30"}, "less than 12 months (6)"),  # L2: one year at least since 2020
        # L3: signed in 2021, the law said one to three years (loi ASAP 2020-1525 art. 121)
        (
            {
                "starts": "2021-01-01",
                "signed": "2021-03-01",
                "deposited": "2021-03-10",
                "extra": "ends_on = 2024-12-31",
            },
            "more than 36 months (48)",
        ),
        # L4: ratified by 18 of 28: 54 < 56, less than two thirds
        (
            {"extra": 'setup = "ratification"\nratification = { votes_for = 18, staff = 28 }'},
            "less than two thirds",
        ),
        # L5: unilateral decision with 50 employees or more five years running (L3312-5 II, L130-1 CSS)
        (
            {
                "extra": 'setup = "unilateral"\nunilateral_ground = "no_representatives"',
                "company": "average_headcounts = { 2020 = 55, 2021 = 55, 2022 = 60, 2023 = 60, 2024 = 61 }",
            },
            "fewer than 50 employees",
        ),
        # L6: after failed negotiation, the CSE consulted 10 days before the deposit (15 required)
        (
            {
                "extra": 'setup = "unilateral"\nunilateral_ground = "failed_negotiation"\n'
                "disagreement_record_on = 2025-02-20\ncse_consulted_on = 2025-02-28",
            },
            "less than 15 days before the deposit",
        ),
        ({"extra": 'setup = "unilateral"\ncovered_by_approved_branch_agreement = true'}, "approved branch"),
        (
            {
                "extra": 'setup = "unilateral"\nunilateral_ground = "failed_negotiation"\ncse_consulted_on = 2025-02-10'
            },
            "needs the record of disagreement (procès-verbal de désaccord",
        ),
        (
            {
                "extra": 'setup = "unilateral"\nunilateral_ground = "failed_negotiation"\n'
                "disagreement_record_on = 2025-02-10"
            },
            "cse_consulted_on: the CSE is consulted on the draft",
        ),
    ],
)
def test_l1_to_l6_duration_and_set_up_are_checked(tmp_path, kw, message):
    code, findings = lint(tmp_path, **kw)
    errors = [f for f in findings if f["level"] == "error"]
    assert code == 1 and [f["rule"] for f in errors] == ["I-7"], findings
    assert message in errors[0]["message"]


@pytest.mark.parametrize(
    "extra",
    [
        "ends_on = 2029-12-31",  # five years
        'setup = "ratification"\nratification = { votes_for = 19, staff = 28 }',  # 57 >= 56
        'setup = "unilateral"\nunilateral_ground = "failed_negotiation"\n'
        "disagreement_record_on = 2025-02-10\ncse_consulted_on = 2025-02-20",  # 18 days before the deposit
    ],
)
def test_lawful_durations_and_set_ups_have_no_error(tmp_path, extra):
    code, findings = lint(tmp_path, extra=extra)
    assert code == 0 and rules(findings) == [], findings


def test_a_late_renegotiation_request_is_warned_and_no_set_up_is_an_info(tmp_path):
    # I-7: a request outside the 3 months before an expiry does not stop the tacit renewal
    extra = "ends_on = 2025-12-31\ntacit_renewal = true\nrenegotiation_requested_on = 2025-06-01"
    code, findings = lint(tmp_path, extra=extra)
    assert code == 0 and rules(findings, "warning") == ["I-7"]
    assert any(f["rule"] == "I-7" and "setup" in f["message"] for f in findings if f["level"] == "info")
    code, findings = lint(tmp_path, extra=extra.replace("2025-06-01", "2025-11-15"))
    assert rules(findings, "warning") == []


def test_what_the_set_up_leaves_unchecked_is_said(tmp_path):
    # no headcount at all: the 50-employee limit of a unilateral decision cannot be checked (I-7, D-10)
    code, findings = lint(
        tmp_path, company="", extra='setup = "unilateral"\nunilateral_ground = "no_representatives"'
    )
    assert code == 0 and rules(findings) == []
    assert any("give company.average_headcounts to check the 50 limit" in f["message"] for f in findings)
    # a renegotiation asked of an agreement that does not renew by itself
    code, findings = lint(tmp_path, extra="ends_on = 2025-12-31\nrenegotiation_requested_on = 2025-11-15")
    assert code == 0 and [f["message"] for f in findings if f["level"] == "warning"] == [
        "schemes.interessement.renegotiation_requested_on: the agreement has no tacit renewal (tacit_renewal = false)"
    ]
    # the first whole calculation period starts in 2026: signed on 30 June 2026, still in its first half
    code, findings = lint(tmp_path, starts="2025-03-01", signed="2026-06-30", deposited="2026-07-01")
    assert code == 0 and "I-8" not in rules(findings)


V1 = """[company]
id = "PME"
name = "PME SAS"
average_headcounts = {{ 2020 = 20, 2021 = 20, 2022 = 20, 2023 = 21, 2024 = 22 }}
{extra}
[[company.fiscal_results]]
exercise = "2022"
benefice_net_fiscal = "{b2022}"
chiffre_affaires = "1000000"

[[company.fiscal_results]]
exercise = "2023"
benefice_net_fiscal = "20000"
chiffre_affaires = "1000000"

[[company.fiscal_results]]
exercise = "2024"
benefice_net_fiscal = "30000"
chiffre_affaires = "1000000"
{schemes}
"""


@pytest.mark.parametrize(
    ("b2022", "extra", "schemes", "warned"),
    [
        ("10000", "", "", True),  # 1 % of the turnover three years running, 20 employees, nothing declared
        ("9000", "", "", False),  # 0.9 % in 2022
        ("10000", 'value_sharing = { 2025 = ["ppv"] }', "", False),  # a PPV for 2025
        (
            "10000",
            "",
            '[schemes.interessement]\nstarts_on = 2025-01-01\nformula = "rcai"\n'
            '[[schemes.interessement.distribution]]\ncriterion = "uniform"\nshare = "1"\n',
            False,
        ),
        (  # a TOML date-time, which load reads as its day: lint compared it with a date (TypeError traceback)
            "10000",
            "",
            '[schemes.interessement]\nstarts_on = 2025-01-01T00:00:00\nformula = "rcai"\n'
            '[[schemes.interessement.distribution]]\ncriterion = "uniform"\nshare = "1"\n',
            False,
        ),
    ],
)
def test_l8_the_value_sharing_duty_of_11_to_49_employees(tmp_path, b2022, extra, schemes, warned):
    # docs/rules.md V-1 (loi 2023-1107 art. 5): a company of at least 11 employees, not bound to participation,
    # with a net taxable profit of at least 1 % of its turnover in 2022-2024, must share value in 2025
    d = tmp_path / "pme"
    d.mkdir(exist_ok=True)
    (d / "company.toml").write_text(V1.format(b2022=b2022, extra=extra, schemes=schemes))
    code, out, _ = cli("lint", str(d), "--format", "json")
    findings = json.loads(out)
    v1 = [f for f in findings if f["rule"] == "V-1"]
    assert bool(v1) is warned, findings
    if warned:
        assert v1[0]["level"] == "warning" and "2025" in v1[0]["message"] and code == 0


def test_the_former_cap_key_is_warned(tmp_path):
    # I-33, D-4: prorate_cap_by_presence is the former name of cap_proration
    code, findings = lint(tmp_path, extra="prorate_cap_by_presence = true")
    assert code == 0 and rules(findings, "warning") == ["I-33"]
