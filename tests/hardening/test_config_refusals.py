"""Every check of company.toml refuses its value at `load` with one line naming the key and saying why, exit 2,
the ledger untouched (docs/data-format.md, docs/reference.md): the company table, the statement table, the
intéressement agreement and its sub-pools, company heads, and the salary-type schemes (prime NAO, objectives, PMT
and their common settings). So does every check of a `--params` file (docs/params.md)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers.hostile import attempt

Change = tuple[str, str] | Callable[[Path], None]

I_END = 'reliquat = "redistribute"'  # the last key of [schemes.interessement] before its sub-pools
PLAN = 'max_amount = "1500.00"'  # the objective plan "techniciens"
DIRECTION = 'max_amount = "4000.00"'  # the objective plan "direction" (collective)
NAO_AMOUNTS = 'flat = "150.00"\nseniority = [[0, "100"], [2, "200"], [5, "350"]]'
INSTALMENTS = 'instalments = [{ date = 2025-06-30, share = "0.5" }, { date = 2025-12-31, share = "0.5" }]'
PMT = '[schemes.pmt]\nfrequency = "annual"'
STATEMENT_END = 'account_keeper = "Épargne Salariale Conseil"'
FISCAL = 'headcount = 32\nfiscal_results = [{{ exercise = "{0}", chiffre_affaires = {1}, benefice_net_fiscal = 10 }}]'


def removing(pattern: str, then: tuple[str, str] = ("", "")) -> Callable[[Path], None]:
    """A change that removes what `pattern` matches in company.toml (once), then replaces then[0] by then[1]."""

    def change(company: Path) -> None:
        p = company / "company.toml"
        text, n = re.subn(pattern, "", p.read_text(encoding="utf-8"), count=1, flags=re.S)
        assert n == 1, pattern
        p.write_text(text.replace(*then, 1), encoding="utf-8")

    return change


# case: (the change, words of the one line that refuses it)
REFUSED: dict[str, tuple[Change, str]] = {
    # [company]
    "no [company] table": (
        removing(r"\[company\].*?(?=\[schemes\.interessement\])"),
        "missing [company] table",
    ),
    "a negative headcount": (("headcount = 32", "headcount = -1"), "company.headcount: must not be negative"),
    "a fiscal year starting on 1-1": (
        ('fiscal_year_start = "01-01"', 'fiscal_year_start = "1-1"'),
        "company.fiscal_year_start: expected a day of every year, MM-DD",
    ),
    "an exercise that is not a year": (
        ("headcount = 32", FISCAL.format("24", 1000)),
        "company.fiscal_results[0].exercise: '24' is not a year",
    ),
    "a negative turnover": (
        ("headcount = 32", FISCAL.format("2024", -1)),
        "company.fiscal_results[0].chiffre_affaires: must not be negative",
    ),
    "an exercise given twice": (
        (
            "headcount = 32",
            FISCAL.format("2024", 1000)[:-1]
            + ', { exercise = "2024", chiffre_affaires = 1, benefice_net_fiscal = 1 }]',
        ),
        "company.fiscal_results: each exercise appears once",
    ),
    "a value-sharing year of two digits": (
        ("headcount = 32", 'headcount = 32\nvalue_sharing = { 25 = ["ppv"] }'),
        "company.value_sharing: '25' is not a year",
    ),
    "a scheme that is not a table": (
        ("[schemes.interessement]", "[schemes]\nprime = 1\n\n[schemes.interessement]"),
        "schemes: expected tables [schemes.<name>]",
    ),
    # [statement]
    "a certificate without its key": (
        ('place = "Lyon"', 'place = "Lyon"\npdf_certificate = "company.pem"'),
        "statement.pdf_certificate: give it with pdf_certificate_key",
    ),
    "a figure label for a name that is not a figure": (
        (STATEMENT_END, STATEMENT_END + '\n\n[statement.figures]\nCA = { label = "le chiffre" }'),
        "statement.figures: 'CA' is not a figure name",
    ),
    "a contact of a page (it pushed the statement onto four pages)": (
        ('contact = "Service des ressources humaines', 'contact = "' + "Service RH " * 19 + "Service"),
        "statement.contact: 232 characters, at most 200 (printed on every statement)",
    ),
    "a phone number of 41 characters": (
        ('contact_phone = "04 72 00 12 34"', 'contact_phone = "' + "0" * 41 + '"'),
        "statement.contact_phone: 41 characters, at most 40",
    ),
    # [schemes.interessement] (I-7, I-21 to I-23)
    "a sub-pool share of 0": (
        ('criterion = "uniform"\nshare = "0.30"', 'criterion = "uniform"\nshare = "0"'),
        "share: 0 must be above 0 and at most 1",
    ),
    "a salary floor on the uniform sub-pool": (
        (
            'criterion = "uniform"\nshare = "0.30"',
            'criterion = "uniform"\nshare = "0.30"\nsalary_floor = "1000"',
        ),
        "salary_floor and salary_ceiling only apply to the salary criterion (I-23)",
    ),
    "a salary floor above the ceiling": (
        (
            'criterion = "salary"\nshare = "0.40"',
            'criterion = "salary"\nshare = "0.40"\nsalary_floor = "5000"\nsalary_ceiling = "1000"',
        ),
        "salary_floor is above salary_ceiling",
    ),
    "no sub-pool": (
        removing(
            r"\[\[schemes\.interessement\.distribution\]\].*?(?=\[schemes\.prime_objectif\])",
            (I_END, I_END + "\ndistribution = []"),
        ),
        "distribution: at least one sub-pool (uniform, presence or salary) is needed (LAW I-21)",
    ),
    "a criterion twice": (
        ('criterion = "presence"', 'criterion = "uniform"'),
        "distribution: each criterion appears once (one sub-pool per criterion, LAW I-22)",
    ),
    "an end before the start": (
        ("ends_on = 2027-12-31", "ends_on = 2024-12-31"),
        "ends_on: before starts_on",
    ),
    "a ratification without the vote": (
        (I_END, I_END + '\nsetup = "ratification"'),
        "ratification: give the vote (votes_for, staff)",
    ),
    "more votes than staff": (
        (I_END, I_END + '\nsetup = "ratification"\nratification = { votes_for = 30, staff = 28 }'),
        "ratification: 0 <= votes_for <= staff",
    ),
    "a ground for a decision that is not unilateral": (
        (I_END, I_END + '\nunilateral_ground = "no_representatives"'),
        'unilateral_ground: only with setup = "unilateral"',
    ),
    "0 days to consent to an advance": (
        (I_END, I_END + "\nadvance_consent_days = 0"),
        "advance_consent_days: a number of days above 0",
    ),
    "a tacit renewal without a first term": (
        ("ends_on = 2027-12-31", "tacit_renewal = true"),
        "tacit_renewal: give ends_on",
    ),
    "a figure name in capitals": (
        (I_END, I_END + '\nfigures = ["CA"]'),
        "figures: 'CA' must be lower_snake_case",
    ),
    "a company head whose id has a space": (
        (
            I_END,
            I_END + '\ncompany_heads = [{ id = "M Durand", role = "head", in_office_from = 2020-01-01 }]',
        ),
        "id: 'M Durand' must be 1-64 letters, digits or ._-",
    ),
    "a company head out of office before taking it": (
        (
            I_END,
            I_END + '\ncompany_heads = [{ id = "PDG", role = "head", in_office_from = 2020-01-01, '
            "in_office_until = 2019-12-31 }]",
        ),
        "PDG: in_office_until is before in_office_from",
    ),
    # [schemes.prime_nao]
    "an award of nothing": ((NAO_AMOUNTS, ""), "award 'nao-2025': give flat, percent_of_gross or seniority"),
    "seniority rows in decreasing years": (
        (NAO_AMOUNTS, 'flat = "150.00"\nseniority = [[2, "100"], [0, "200"]]'),
        "seniority: rows are [years from, euros] with increasing years",
    ),
    "four instalments": (
        (
            INSTALMENTS,
            "instalments = ["
            + ", ".join(f'{{ date = 2025-{m:02d}-28, share = "0.25" }}' for m in (3, 6, 9, 12))
            + "]",
        ),
        "instalments: one to three",
    ),
    "instalments of 90 %": (
        (INSTALMENTS, INSTALMENTS.replace('share = "0.5" }]', 'share = "0.4" }]')),
        "instalments: the shares add up to 1",
    ),
    "2 as a percentage of the gross": (
        (NAO_AMOUNTS, NAO_AMOUNTS + '\npercent_of_gross = "2"'),
        "percent_of_gross: a fraction, e.g. 0.02 for 2 %",
    ),
    # [schemes.prime_objectif]
    "a maximum of 0": ((PLAN, 'max_amount = "0.00"'), "max_amount: must be positive"),
    "a plan without members": (
        ('members = ["E0004", "E0005", "E0011", "E0014", "E0028"]', "members = []"),
        "members: plan 'techniciens' has no members",
    ),
    "a negative grace period": (
        (PLAN, PLAN + "\ncommunication_grace_days = -1"),
        "communication_grace_days: 0 or more",
    ),
    "thresholds prorated on a collective plan": (
        (DIRECTION, DIRECTION + '\npresence_proration = "thresholds"\ncumulative_figures = ["ca_groupe"]'),
        "presence_proration: thresholds applies to individual plans (D-7)",
    ),
    "a plan id twice": (('id = "direction"', 'id = "techniciens"'), "plans: each plan id appears once"),
    # [schemes.pmt] and the settings of every salary-type scheme
    "a level with an amount and a rate": (
        ('rate = "0.08"', 'rate = "0.08"\namount = "100.00"'),
        "level 'expert': give either amount or rate",
    ),
    "no level": (
        removing(r"\[\[schemes\.pmt\.levels\]\].*?(?=# what the individual)", (PMT, PMT + "\nlevels = []")),
        "levels: at least one level",
    ),
    "a criterion id twice": (
        ('id = "tutorat"', 'id = "certification"'),
        "criteria: each criterion id appears once",
    ),
    "a DSN code that is no bonus code": (
        (PMT, PMT + '\ndsn_code = "099"'),
        "dsn_code: '099' is not a S21.G00.52 bonus code",
    ),
    "paid 13 months later": ((PMT, PMT + "\npay_lag_months = 13"), "pay_lag_months: between 0 and 12"),
    "an absence kind that does not exist": (
        (PMT, PMT + '\nabsence_kinds = ["flu"]'),
        "absence_kinds: unknown absence kind 'flu'",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_each_check_of_company_toml_refuses_at_load_with_one_line(work, case):
    change, words = REFUSED[case]
    if callable(change):
        change(work.company)
    else:
        work.toml(*change)
    line = attempt(case, work.fresh, "load", str(work.company))
    assert "company.toml" in line and words in line, line


P = '[test_param]\nunit = "cents"\nsource = "test"\n'
TMOP = '[tmop]\nunit = "rate"\nsource = "test"\n'
S1 = '{ semester = "2030-S1", value = "0.05", from = 2030-07-05, jo = 2030-07-04'

# a --params file: (its text, words of the one line that refuses it)
PARAMS_REFUSED = {
    "a parameter that is not a table": ("test_param = 1\n", "[test_param]: expected a table"),
    "a key a parameter does not have": (P + 'colour = "red"\n', "[test_param]: unknown key 'colour'"),
    "no source": (
        '[test_param]\nunit = "cents"\nvalues = [{ from = 2030-01-01, value = 1 }]\n',
        "needs a source",
    ),
    "a value that is not a table": (
        P + "values = [1]\n",
        "values[0]: expected a table { from = ..., value = ... }",
    ),
    "a key a value does not have": (
        P + 'values = [{ from = 2030-01-01, value = 1, colour = "red" }]\n',
        "values[0]: unknown key 'colour'",
    ),
    "an end that is not a date": (
        P + 'values = [{ from = 2030-01-01, until = "2031", value = 1 }]\n',
        "values[0]: 'until' must be a date",
    ),
    "an end before the start": (  # the value never applied: dispatches failed later (re-check of the red team)
        P + "values = [{ from = 2030-01-01, until = 2029-01-01, value = 1 }]\n",
        "values[0]: 'until' (2029-01-01) is before 'from' (2030-01-01)",
    ),
    "a reference that is not text": (
        P + "values = [{ from = 2030-01-01, value = 1, ref = 3 }]\n",
        "values[0]: 'ref' must be a string",
    ),
    "no value": (P + "values = []\n", "[test_param]: no values"),
    "a value with its semester and one without": (
        TMOP + f'values = [{S1} }}, {{ from = 2031-01-01, value = "0.05" }}]\n',
        "[tmop]: either every value names its semester or none does",
    ),
    "estimated written as a word": (
        TMOP + f'values = [{S1}, estimated = "yes" }}]\n',
        "'estimated' must be true or false",
    ),
    "a JO date that is no date": (
        TMOP + 'values = [{ semester = "2030-S1", value = "0.05", from = 2030-07-05, jo = "4 July" }]\n',
        "'jo' must be a date",
    ),
    "a JO date without its semester": (
        P + "values = [{ from = 2030-01-01, value = 1, jo = 2029-12-31 }]\n",
        "'jo' and 'estimated' go with a 'semester'",
    ),
    "a semester written as a number": (
        TMOP + 'values = [{ semester = 2030, value = "0.05", from = 2030-07-05, jo = 2030-07-04 }]\n',
        "'semester' must be a string",
    ),
    "a semester's value with an end": (
        TMOP + f"values = [{S1}, until = 2030-12-31 }}]\n",
        "2030-S1: no 'until'",
    ),
    "a semester given twice": (
        TMOP
        + f'values = [{S1} }}, {{ semester = "2030-S1", value = "0.06", from = 2030-07-06, jo = 2030-07-05 }}]\n',
        "[tmop]: semester 2030-S1 is given twice",
    ),
}


@pytest.mark.parametrize("case", list(PARAMS_REFUSED))
def test_each_check_of_a_params_file_refuses_it_with_one_line(work, case):
    text, words = PARAMS_REFUSED[case]
    params = work.file("params.toml", text)
    line = attempt(case, work.fresh, "--params", str(params), "publish", str(work.company / "events.jsonl"))
    assert "params.toml" in line and words in line, line


def _edit(name: str, old: str, new: str) -> Callable[[Path], None]:
    def change(company: Path) -> None:
        p = company / name
        text = p.read_text(encoding="utf-8")
        assert old in text, old
        p.write_text(text.replace(old, new, 1), encoding="utf-8")

    return change


def _remove(name: str) -> Callable[[Path], None]:
    return lambda company: (company / name).unlink()


def _rename(name: str, new: str) -> Callable[[Path], None]:
    return lambda company: (company / name).rename(company / new)


HEADER = "employee_id,display_name,contract_start,contract_end,category,establishment\n"

# the other files of a company directory: (the change, where the one line points, why)
DIRECTORY_REFUSED = {
    "no company.toml": (
        _remove("company.toml"),
        "company.toml",
        "missing: every company directory has a company.toml",
    ),
    "no employees.csv": (_remove("employees.csv"), "employees.csv", "missing file"),
    "a contract that ends before it starts": (
        _edit(
            "employees.csv", "E0001,Mathis Petit,2022-04-01,,", "E0001,Mathis Petit,2022-04-01,2022-03-31,"
        ),
        "employees.csv:2",
        "contract_end 2022-03-31 is before contract_start 2022-04-01",
    ),
    "nobody in employees.csv": (
        lambda company: (company / "employees.csv").write_text(HEADER, encoding="utf-8"),
        "employees.csv",
        "no employees",
    ),
    "a column missing": (
        _edit("employees.csv", "contract_start,", "start,"),
        "employees.csv:1",
        "missing column 'contract_start'",
    ),
    "a column paybonus does not know": (
        _edit("employees.csv", "establishment\n", "establishment,shoe_size\n"),
        "employees.csv:1",
        "unknown column 'shoe_size'",
    ),
    "a row longer than the header": (
        _edit("employees.csv", ",cadre,siege\n", ",cadre,siege,extra\n"),
        "employees.csv:2",
        "more values than columns",
    ),
    "an amount with a decimal comma": (
        _edit("payroll/2025-03.csv", "\nE0002,1566.62,", "\nE0002,1566,62,"),
        "2025-03.csv:3",
        "more values than columns (a number with a decimal comma? write 1234.56 with a dot)",
    ),
    "a French spreadsheet's export: semicolons and decimal commas": (
        lambda company: (company / "payroll/2025-03.csv").write_text(
            (company / "payroll/2025-03.csv").read_text(encoding="utf-8").replace(",", ";").replace(".", ","),
            encoding="utf-8",
        ),
        "2025-03.csv:2",
        "gross: not an amount in euros (a decimal comma: write it with a dot, as 1234.56)",
    ),
    "a payroll file named by a month of one digit": (
        _rename("payroll/2025-03.csv", "payroll/2025-3.csv"),
        "2025-3.csv",
        "payroll files are named YYYY-MM.csv",
    ),
    "an employee twice in a month": (
        _edit("payroll/2025-03.csv", "\nE0002,", "\nE0001,"),
        "2025-03.csv:3",
        "employee_id 'E0001' appears twice in this month",
    ),
    "pay of somebody not employed": (
        _edit("payroll/2025-03.csv", "\nE0002,", "\nE9999,"),
        "2025-03.csv:3",
        "employee_id 'E9999' is not in employees.csv",
    ),
    "an absence of somebody not employed": (
        _edit("absences.csv", "E0002,illness", "E9999,illness"),
        "absences.csv:2",
        "employee_id 'E9999' is not in employees.csv",
    ),
    "an absence that ends before it starts": (
        _edit("absences.csv", "2025-05-16,2025-05-25", "2025-05-26,2025-05-25"),
        "absences.csv:2",
        "end 2025-05-25 is before start 2025-05-26",
    ),
}


@pytest.mark.parametrize("case", list(DIRECTORY_REFUSED))
def test_each_check_of_a_company_directory_refuses_it_at_load_with_one_line(work, case):
    change, where, words = DIRECTORY_REFUSED[case]
    change(work.company)
    line = attempt(case, work.fresh, "load", str(work.company))
    assert where in line and words in line, line


def test_a_file_is_no_company_directory(work):
    line = attempt("a file", work.fresh, "load", str(work.company / "company.toml"))
    assert "company.toml: not a directory (expected a company directory" in line
