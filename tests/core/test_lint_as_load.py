"""`paybonus lint` runs load's own validation of company.toml: what `load` refuses (one line, exit 2, the ledger
untouched), lint reports as an error in load's words (exit 1), so a configuration lint passes also loads."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers.cli import file_hash, sample_copy
from paybonus import Paybonus
from paybonus.cli import main

INTERESSEMENT_BLOCK = re.compile(r"\[schemes\.interessement\].*?(?=\[schemes\.prime_objectif\])", re.S)
BROKEN_TEMPLATE = "{% extends 'fiche.html.j2' %}{% block nothing %}{% if %}{% endblock %}"


def _replace(old: str, new: str):
    def change(company: Path) -> None:
        toml = company / "company.toml"
        text = toml.read_text(encoding="utf-8")
        assert old in text
        toml.write_text(text.replace(old, new, 1), encoding="utf-8")

    return change


def _statement(extra: str, files: dict[str, str] | None = None):
    def change(company: Path) -> None:
        _replace("[statement]\n", f"[statement]\n{extra}\n")(company)
        for name, content in (files or {}).items():
            (company / name).parent.mkdir(parents=True, exist_ok=True)
            (company / name).write_text(content, encoding="utf-8")

    return change


def _without_interessement(company: Path) -> None:
    toml = company / "company.toml"
    text, n = INTERESSEMENT_BLOCK.subn("", toml.read_text(encoding="utf-8"))
    assert n == 1
    toml.write_text(text + "\n[schemes.interessement_projet]\nparticipations = []\n", encoding="utf-8")


# what load refuses in company.toml, and the words (a fragment of load's one line) that say why
REFUSED = {
    "a word where a number of months is due": (
        _replace("seniority_months = 3", 'seniority_months = "keep"'),
        "schemes.interessement.seniority_months: expected an integer, got 'keep'",
    ),
    "a reliquat rule that does not exist": (
        _replace('reliquat = "redistribute"', 'reliquat = "sometimes"'),
        "schemes.interessement.reliquat",
    ),
    "a key the agreement does not have": (
        _replace('reliquat = "redistribute"', 'reliquat = "redistribute"\ncolour = "red"'),
        "schemes.interessement: unknown field(s) colour",
    ),
    "sub-pool shares that add up to 1.2": (
        _replace('share = "0.30"', 'share = "0.50"'),
        "the shares add up to 1.20, not 1",
    ),
    "an amount in words for a scheme without checks of its own": (
        _replace('amount = "800.00"', 'amount = "huit cents"'),
        "schemes.prime_fin_annee.amount",
    ),
    "a scheme that is not installed": (
        _replace("[schemes.prime_fin_annee]", "[schemes.prime_mystere]"),
        "[schemes.prime_mystere]: no installed scheme has that name",
    ),
    "a project intéressement without the company's own agreement (P-1)": (
        _without_interessement,
        "[schemes.interessement_projet]: the company also needs [schemes.interessement]",
    ),
    "a logo that is not there": (
        _statement('logo = "logo.png"'),
        "statement.logo: cannot read",
    ),
    "a company template that does not render": (
        _statement('template_dir = "tpl"', {"tpl/fiche.html.j2": BROKEN_TEMPLATE}),
        "fiche.html.j2",
    ),
}


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def ledger(tmp_path):
    db = tmp_path / "l.db"
    Paybonus.create(db).close()
    return db


@pytest.mark.parametrize("case", list(REFUSED))
def test_what_load_refuses_lint_reports_as_an_error_in_loads_words(tmp_path, ledger, capsys, case):
    change, words = REFUSED[case]
    company = sample_copy(tmp_path / "durand")
    change(company)
    before = file_hash(ledger)
    code, _, err = cli(capsys, "--db", str(ledger), "load", str(company))
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and words in lines[0], err
    assert file_hash(ledger) == before
    refusal = lines[0].removeprefix("error: ").removeprefix(f"{company / 'company.toml'}: ")

    code, out, err = cli(capsys, "lint", str(company), "--format", "json")
    errors = [f for f in json.loads(out) if f["level"] == "error"]
    assert code == 1 and "compliance error" in err, (out, err)
    assert refusal in [f["message"] for f in errors if f["rule"] == "config"], (refusal, errors)


def test_lint_lists_every_refusal_where_load_stops_at_the_first(tmp_path, capsys):
    company = sample_copy(tmp_path / "durand")
    for change, _ in (
        REFUSED["a word where a number of months is due"],
        REFUSED["a scheme that is not installed"],
    ):
        change(company)
    code, out, _ = cli(capsys, "lint", str(company), "--format", "json")
    messages = [f["message"] for f in json.loads(out) if f["level"] == "error"]
    assert code == 1 and len(messages) == 2, messages
    assert "prime_mystere" in messages[0] and "seniority_months" in messages[1]


def test_a_rule_lint_cites_is_not_repeated_in_loads_words(tmp_path, capsys):
    # load refuses 4 months of seniority (I-13) too; lint says it once, citing the rule
    company = sample_copy(tmp_path / "durand")
    _replace("seniority_months = 3", "seniority_months = 4")(company)
    code, out, _ = cli(capsys, "lint", str(company), "--format", "json")
    errors = [(f["rule"], f["message"]) for f in json.loads(out) if f["level"] == "error"]
    assert code == 1 and errors == [
        ("I-13", "schemes.interessement.seniority_months: 4 months is over the legal maximum of 3")
    ]


def test_the_sample_company_lints_without_error_and_loads(tmp_path, ledger, capsys):
    company = sample_copy(tmp_path / "durand")
    code, out, _ = cli(capsys, "lint", str(company), "--format", "json")
    assert code == 0 and not [f for f in json.loads(out) if f["level"] == "error"]
    assert cli(capsys, "--db", str(ledger), "load", str(company))[0] == 0
