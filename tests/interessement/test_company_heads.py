"""Company heads and their spouses as beneficiaries (LAW I-16, I-17, I-24; docs/rules.md D-11).

Exercise 2025 (deadline 31 May 2026: headcount judged on 2021-2025, L130-1 CSS); salary criterion; rcai 7 000 ->
pool 700 000. Employee E 2 500.00 a month (30 000.00); head H, 2024 income 100 000.00; spouse S with an agreed
base of 10 000.00 (at most 25 % of the PASS 2025: 11 775.00, L3314-6).
"""

import json

from helpers.companies import close_year, company, person, toml, world
from paybonus.audit import verify

HEADS = """
[[schemes.interessement.company_heads]]
id = "H"
role = "head"
in_office_from = 2019-01-01
income = {{ 2024 = "100000.00" }}

[[schemes.interessement.company_heads]]
id = "S"
role = "spouse"
in_office_from = 2019-01-01
spouse_base = "{spouse_base}"
"""


def heads_company(headcount=1, spouse_base="10000.00", employee_end=None):
    text = toml(extra=HEADS.format(spouse_base=spouse_base), headcount=0)
    counts = "average_headcounts = { " + ", ".join(f"{y} = {headcount}" for y in range(2021, 2026)) + " }\n"
    text = text.replace("headcount = 0\n", counts)
    return company([person("E", 250_000, start="2019-01-01", end=employee_end)], text)


def test_h1_heads_income_in_the_base_and_their_salary_within_the_highest_paid(tmp_path):
    # I-17 (L3314-8): base 30 000.00 + H's 2024 income 100 000.00 -> cap 26 000.00, above the pool;
    # I-24 (L3314-6): H's salary base is min(100 000.00, highest salary 30 000.00); S's base is the agreed
    # 10 000.00. Weights 30 000 / 30 000 / 10 000 of 70 000: E 3 000.00, H 3 000.00, S 1 000.00
    bus, ledger = world(tmp_path, heads_company())
    close_year(bus, rcai=7_000)
    got = {r["employee"]: r["amount_cents"] for r in ledger.entitlements.rows()}
    assert got == {"E": 300_000, "H": 300_000, "S": 100_000}
    s = json.loads(
        ledger.conn.execute("SELECT summary FROM dispatches WHERE event_id = 'results'").fetchone()[0]
    )
    assert s["payroll_cents"] == 13_000_000 and s["payroll_base"]["heads_income_cents"] == 10_000_000
    h = ledger.entitlements.explanation(next(r for r in ledger.entitlements.rows() if r["employee"] == "H"))
    assert h["inputs"]["beneficiary"]["type"] == "head" and h["inputs"]["salary_used_cents"] == 3_000_000
    assert {"I-16", "I-24", "D-11"} <= set(h["rules"])
    assert verify(ledger, bus.host.schemes).ok


def test_h2_a_spouse_base_above_a_quarter_of_the_pass_is_refused(tmp_path):
    # L3314-6 al. 2 (I-24): 12 000.00 > 25 % x 47 100.00 = 11 775.00
    bus, _ = world(tmp_path, heads_company(spouse_base="12000.00"))
    out = close_year(bus, rcai=7_000)
    [d] = out.dispatches
    assert (
        d.status == "failed" and "spouse_base [amount] is above a quarter of the PASS ([amount]" in d.error
    )  # no amount stored


def test_h3_from_250_employees_heads_cannot_benefit(tmp_path):
    # L3312-3 (I-16), L130-1 CSS: 250 or more each year 2021-2025
    bus, _ = world(tmp_path, heads_company(headcount=250))
    [d] = close_year(bus, rcai=7_000).dispatches
    assert d.status == "failed" and "fewer than 250 employees" in d.error


def test_h4_a_company_without_employees_cannot_share_with_its_head(tmp_path):
    # L3312-3: intéressement needs at least one employee besides the heads
    bus, _ = world(tmp_path, heads_company(employee_end="2024-12-31"))
    [d] = close_year(bus, rcai=7_000).dispatches
    assert d.status == "failed" and "no employee" in d.error


def test_company_heads_are_checked_at_load():
    import pytest
    from paybonus import load_plugins
    from paybonus.config import parse_company_toml, scheme_config
    from paybonus.errors import UserError

    def load(heads):
        scheme_config(
            parse_company_toml(toml(extra=heads), "company.toml"),
            load_plugins(entry_points=False).schemes["interessement"],
            "company.toml",
        )

    head = '[[schemes.interessement.company_heads]]\nid = "H"\nin_office_from = 2020-01-01\n'
    for extra, message in (
        ('role = "chairman"\n', "company_heads[0].role: expected one of"),
        ('role = "head"\nspouse_base = "1000.00"\n', "H: spouse_base only applies to a spouse"),
        ('role = "head"\nincome = { 24 = "1.00" }\n', "H: income: '24' is not a calendar year"),
        ('role = "head"\n' + head + 'role = "officer"\n', "company_heads: each id appears once"),
    ):
        with pytest.raises(UserError, match=r"^company\.toml: schemes\.interessement\.") as info:
            load(head + extra)
        assert message in str(info.value)
