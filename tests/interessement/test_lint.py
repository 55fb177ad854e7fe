"""`paybonus lint`: compliance findings with their rule ids (LAW I-1, I-2, I-3, I-8, I-9, I-13, I-15)."""

import json

import pytest
from helpers.cli import run

BASE = """[company]
id = "X"
name = "X SAS"
headcount = 10

[schemes.interessement]
starts_on = 2025-01-01
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
    }
    values.update(kw)
    d = tmp_path / "co"
    d.mkdir(exist_ok=True)
    (d / "company.toml").write_text(BASE.format(**values))
    r = run("lint", str(d), "--format", "json", cwd=tmp_path)
    return r.returncode, json.loads(r.stdout)


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
