"""company.toml keys of individual statements: [company] address and siren, the [statement] table, and the
logo and templates stored with the configuration (docs/statements.md)."""

import shutil

import pytest
from paybonus import Paybonus
from paybonus.config import parse_company_toml
from paybonus.errors import UserError
from paybonus.fixtures import sample_dir
from paybonus.sources import read_company_dir

HEAD = '[company]\nid = "A"\nname = "Atelier"\n'
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (HEAD + 'address = "14 rue des Tanneurs"', "company.address: expected a list of lines"),
        (HEAD + "address = [1]", "company.address: expected a list of lines"),
        (HEAD + 'siren = "812 345 678"', "company.siren: '812 345 678' is not a SIREN (9 digits"),
        (HEAD + '[statement]\ncontakt = "RH"', "statement: unknown field(s) contakt"),
        (HEAD + '[statement]\nlogo = "../logo.png"', "statement.logo: '../logo.png' must be a path inside"),
        (HEAD + '[statement]\nlogo = "logo.gif"', "statement.logo: 'logo.gif' must be a PNG or JPEG"),
        (HEAD + "[statement.wording]\nintro = 3", "statement.wording.intro: expected a string, got 3"),
        (
            HEAD + '[statement.figures]\nCompletion = { label = "x" }',
            "statement.figures: 'Completion' is not",
        ),
        (
            HEAD + '[statement.figures]\ncompletion = { unit = "%" }',
            "statement.figures['completion'].label: required field missing",
        ),
        (HEAD + "[statements]", "unknown table [statements]"),
    ],
)
def test_each_mistake_is_one_precise_line(toml, message):
    with pytest.raises(UserError) as e:
        parse_company_toml(toml, "acme/company.toml")
    assert str(e.value).startswith("acme/company.toml: ") and message in str(e.value), str(e.value)


def test_the_documented_example_loads():
    c = parse_company_toml(
        HEAD
        + 'siren = "812345678"\naddress = ["14 rue des Tanneurs", "69007 Lyon"]\n'
        + '[statement]\nplace = "Lyon"\ncontact_email = "rh@atelier.fr"\n'
        + '[statement.formulas]\ninteressement = "15 % du résultat"\n'
        + '[statement.figures]\ncompletion = { label = "le taux d\'avancement", unit = "%" }\n',
        "company.toml",
    )
    assert c.info.address == ("14 rue des Tanneurs", "69007 Lyon") and c.info.siren == "812345678"
    assert c.statement.place == "Lyon" and c.statement.figures["completion"].unit == "%"
    assert c.statement.formulas == {"interessement": "15 % du résultat"}


def company_with(tmp_path, statement: str):
    """The sample company with more keys in its [statement] table (the last of its company.toml)."""
    d = tmp_path / "durand"
    shutil.copytree(sample_dir(), d)
    assert (d / "company.toml").read_text(encoding="utf-8").rsplit("\n[", 1)[1].startswith("statement]")
    with (d / "company.toml").open("a", encoding="utf-8") as f:
        f.write(statement)
    return d


def test_the_logo_and_templates_are_read_and_stored_with_the_configuration(tmp_path):
    d = company_with(tmp_path, 'logo = "logo.png"\ntemplate_dir = "modeles"\n')
    (d / "logo.png").write_bytes(PNG)
    (d / "modeles").mkdir()
    (d / "modeles" / "fiche.html.j2").write_text('{% extends "paybonus/fiche.html.j2" %}', encoding="utf-8")
    (d / "modeles" / "notes.txt").write_text("not a template")
    data = read_company_dir(d)
    assert [n for n, _ in data.files] == ["logo.png", "modeles/fiche.html.j2"]
    with Paybonus.create(tmp_path / "l.db") as app:
        app.load_company(data)
        assert app.ledger.companies.files("DURAND")["logo.png"] == PNG
        (d / "logo.png").unlink()  # statements never need the company directory again
        assert set(app.ledger.companies.files("DURAND")) == {"logo.png", "modeles/fiche.html.j2"}
    before = data.digest
    (d / "logo.png").write_bytes(PNG + b"\1")
    assert read_company_dir(d).digest != before  # the audit's digest covers the files


@pytest.mark.parametrize(
    ("statement", "setup", "message"),
    [
        ('logo = "logo.png"\n', None, "statement.logo: cannot read"),
        ('logo = "logo.png"\n', ("logo.png", b"GIF89a"), "logo.png is not a PNG or JPEG image"),
        ('logo = "logo.png"\n', ("logo.png", PNG + b"\0" * 300_000), "more than the 256 KB"),
        ('template_dir = "modeles"\n', None, "statement.template_dir: 'modeles' is not a directory"),
    ],
)
def test_a_missing_or_bad_statement_file_is_refused_at_load(tmp_path, statement, setup, message):
    d = company_with(tmp_path, statement)
    if setup:
        (d / setup[0]).write_bytes(setup[1])
    with pytest.raises(UserError) as e:
        read_company_dir(d)
    assert message in str(e.value) and "company.toml" in str(e.value), str(e.value)


def test_a_template_directory_needs_the_statement_template(tmp_path):
    d = company_with(tmp_path, 'template_dir = "modeles"\n')
    (d / "modeles").mkdir()
    with pytest.raises(UserError, match=r"no fiche\.html\.j2"):
        read_company_dir(d)
