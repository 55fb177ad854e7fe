"""What a company changes on its statements through company.toml: its logo, wording, the words of its formula,
and its own template directory (the example of docs/examples/statement-templates), checked when loaded."""

import shutil
from datetime import date
from io import BytesIO
from pathlib import Path

import pytest
from helpers.statements import text_of
from paybonus import Paybonus
from paybonus.calendar import Period
from paybonus.errors import UserError
from paybonus.fixtures import sample_dir

EXAMPLE = Path(__file__).parent.parent.parent / "docs" / "examples" / "statement-templates"
OWN = """template_dir = "statement-templates"
logo = "statement-templates/logo.png"

[statement.wording]
closing = "Avec nos remerciements pour votre engagement, la direction."

[statement.formulas]
interessement = "10 % de la part du résultat courant avant impôt comprise entre 50 000 € et 150 000 €, plus 15 % de la part au-delà"
"""


def company(tmp_path, statement: str = OWN, replace: tuple[str, str] = ("", "")) -> Path:
    d = tmp_path / "durand"
    shutil.copytree(sample_dir(), d)
    shutil.copytree(EXAMPLE, d / "statement-templates")
    toml = (d / "company.toml").read_text(encoding="utf-8").replace(*replace)
    (d / "company.toml").write_text(toml + statement, encoding="utf-8")  # [statement] is its last table
    return d


def statement(tmp_path, d: Path, employee: str = "E0001"):
    with Paybonus.create(tmp_path / "l.db") as app:
        app.load_company(d)
        app.publish(d / "events.jsonl")
        (st,) = app.statements(
            "DURAND",
            Period.parse("2025"),
            "interessement",
            issued_on=date(2026, 4, 15),
            channel="email",
            employee=employee,
        )
    return st


def test_the_documented_example_changes_the_intro_the_contact_the_closing_and_the_formulas_words(tmp_path):
    st = statement(tmp_path, company(tmp_path))
    page = st.html()
    pdf = st.pdf()
    assert '<img src="data:image/png;base64,' in page  # one self-contained file
    from pypdf import PdfReader

    assert PdfReader(BytesIO(pdf)).pages[0].images  # the logo is in the PDF too
    for text in (text_of(page.encode("utf-8")), text_of(pdf)):
        assert "Chère collaboratrice, cher collaborateur" in text
        assert "vous reçoit sans rendez-vous le mardi de 14 h à 17 h" in text
        assert "Avec nos remerciements pour votre engagement, la direction." in text
        # the agreement's own words replace the generated sentence; the table with the year's figures stays
        assert "est égal à 10 % de la part du résultat courant avant impôt comprise entre" in text
        assert "calculé par tranches" not in text and "Total 366 937,00 € 42 540,55 €" in text
        assert "3° ter Montant restant à percevoir" in text  # the blocks it does not replace stay as shipped


def test_the_company_files_travel_in_the_ledger(tmp_path):
    d = company(tmp_path)
    st = statement(tmp_path, d)
    shutil.rmtree(d)
    with Paybonus.open(tmp_path / "l.db") as app:
        (again,) = app.statements(
            "DURAND",
            Period.parse("2025"),
            "interessement",
            issued_on=date(2026, 4, 15),
            channel="email",
            employee="E0001",
        )
    assert again.html() == st.html()


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("{% block amounts %}<p>Voir votre bulletin.</p>{% endblock %}", "leaves out '1°' (D3313-9)"),
        ("{% block annex %}{% endblock %}", "leaves out 'Annexe' (D3313-9)"),
        ("{% block intro %}<table><tr><td>a<br>b</td></tr></table>{% endblock %}", "the PDF cannot lay"),
        ("{% block intro %}{{ s.salaire }}{% endblock %}", "has no attribute 'salaire'"),
        ("{% block intro %}{{ ''.__class__.__mro__ }}{% endblock %}", "unsafe"),
        ("{% block intro %}{% if %}{% endblock %}", "statement template"),
    ],
)
def test_a_template_that_breaks_the_statement_is_refused_when_loaded(tmp_path, block, message):
    d = company(tmp_path)
    (d / "statement-templates" / "fiche.html.j2").write_text(
        '{% extends "paybonus/fiche.html.j2" %}\n' + block, encoding="utf-8"
    )
    with Paybonus.create(tmp_path / "l.db") as app, pytest.raises(UserError) as e:
        app.load_company(d)
    assert "statement-templates/fiche.html.j2" in e.value.where and message in e.value.what, str(e.value)
    with Paybonus.open(tmp_path / "l.db") as app:
        assert app.companies() == []  # nothing loaded


def test_without_a_savings_plan_the_sum_is_paid_and_5_and_6_do_not_apply(tmp_path):
    d = company(tmp_path, "", ("has_savings_plan = true", "has_savings_plan = false"))
    st = statement(tmp_path, d)
    text = text_of(st.html().encode("utf-8"))
    assert "n'a pas de plan d'épargne salariale : votre intéressement vous est versé" in text
    assert "5° Sans objet" in text and "6° Sans objet" in text and "Montant net versé" in text
    assert st.content["choice"]["open"] is False and st.content["dates"]["answer_by"] is None


@pytest.mark.parametrize(
    ("plans", "breaks"),
    [
        (("has_savings_plan = true", "has_savings_plan = false\nhas_company_per = true"), "c.per_only"),
        (("has_savings_plan = true", "has_savings_plan = false"), "not c.open"),
    ],
)
def test_a_company_template_is_tried_on_the_company_s_own_plans_when_loaded(tmp_path, plans, breaks):
    """The template was tried on a company with a PEE whatever the company's plans (review finding): a block that
    breaks only for a PER-only company, or one without a plan, loaded and then failed on its first statement."""
    d = company(tmp_path, replace=plans)
    block = f"{{% block intro %}}{{% if {breaks} %}}{{{{ s.salaire }}}}{{% endif %}}{{% endblock %}}"
    (d / "statement-templates" / "fiche.html.j2").write_text(
        '{% extends "paybonus/fiche.html.j2" %}\n' + block, encoding="utf-8"
    )
    with Paybonus.create(tmp_path / "l.db") as app, pytest.raises(UserError) as e:
        app.load_company(d)
    assert "has no attribute 'salaire'" in e.value.what, str(e.value)
