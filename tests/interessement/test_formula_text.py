"""An agreement's formula told in plain French for the statement's annex, with its tables of the year's figures."""

from decimal import Decimal

import pytest
from paybonus.plugins.interessement.formula_text import sentence, tables

NBSP, NNBSP = "\u00a0", "\u202f"


def plain(text: str) -> str:
    return text.replace(NBSP, " ").replace(NNBSP, " ")


def test_brackets_read_as_tranches_and_their_table_adds_up():
    f = "brackets(rcai, [[0, 0], [50000, 0.10], [150000, 0.15]])"
    assert plain(sentence(f)) == (
        "un pourcentage du résultat courant avant impôt (RCAI), calculé par tranches : 0 % jusqu'à 50 000 €, "
        "10 % de 50 000 € à 150 000 €, 15 % au-delà de 150 000 €"
    )
    (t,) = tables(f, {"rcai": Decimal("366937")}, {"rcai"})["brackets"]
    assert [plain(r["amount"]) for r in t["rows"]] == ["0,00 €", "10 000,00 €", "32 540,55 €"]
    assert plain(t["total"]) == "42 540,55 €" and plain(t["x"]) == "366 937,00 €"


def test_a_sum_is_a_table_of_terms_with_the_agreements_own_labels_and_units():
    f = "15000 * achievement(completion, 0.6, 1.0) + 5000 * (1 - min(1, delay_days / 60))"
    labels = {
        "completion": {"label": "le taux d'avancement", "unit": "%"},
        "delay_days": {"label": "le retard", "unit": "jours"},
    }
    t = tables(
        f, {"completion": Decimal("0.9"), "delay_days": Decimal("15")}, {"completion", "delay_days"}, labels
    )
    assert [plain(x["value"]) for x in t["terms"]] == ["11 250,00 €", "3 750,00 €"]
    assert plain(t["value"]) == "15 000,00 €"
    assert "le taux d'atteinte de l'objectif sur le taux d'avancement (0 % jusqu'à 60 %" in plain(
        t["terms"][0]["text"]
    )
    assert [(f["label"], plain(f["value"])) for f in t["figures"]] == [
        ("le taux d'avancement", "90 %"),
        ("le retard", "15 jours"),
    ]


def test_other_forms_read_as_sentences():
    assert plain(sentence("0.05 * rcai")) == "5 % du résultat courant avant impôt (RCAI)"
    assert plain(sentence("max(0, rcai - 100000)")) == (
        "le résultat courant avant impôt (RCAI), moins 100 000 € (sans pouvoir être négatif)"
    )
    assert plain(sentence("0.02 * resultat_net if chiffre_affaires >= 1000000 else 0")) == (
        "2 % du résultat net si le chiffre d'affaires atteint au moins 1 000 000, sinon 0 €"
    )
    assert "«" in sentence("0.1 * marge_projet") and "marge projet" in sentence("0.1 * marge_projet")


# every form of the formula language, and the words the annex gives it (the statement's legal text, D3313-9)
SENTENCES = {
    "rcai + -1000": "le résultat courant avant impôt (RCAI), plus –1 000 €",
    "rcai - ebe": "le résultat courant avant impôt (RCAI), moins l'excédent brut d'exploitation (EBE)",
    "rcai * 0.05": "5 % du résultat courant avant impôt (RCAI)",
    "pct(3) * payroll": "3 % de la masse salariale brute de la période",
    "2 * rcai": "2 fois le résultat courant avant impôt (RCAI)",
    "1000 * pct(3)": "1 000 € multipliés par 3 %",
    "rcai * chiffre_affaires": "le résultat courant avant impôt (RCAI) multiplié par le chiffre d'affaires",
    "(rcai + ebe) * payroll": "la somme du résultat courant avant impôt (RCAI) et de l'excédent brut "
    "d'exploitation (EBE) multiplié par la masse salariale brute de la période",
    "(rcai - ebe) * x": "la différence entre le résultat courant avant impôt (RCAI) et l'excédent brut "
    "d'exploitation (EBE) multiplié par le taux x",
    "payroll * step(effectif, [[0, 0.01], [50, 0.02]])": "la masse salariale brute de la période, multiplié "
    "par un taux fixé selon l'effectif : 1 % à partir de 0, 2 % à partir de 50",
    "step(effectif, [[0, 1000], [50, 2000]])": "un montant fixé selon l'effectif : 1 000 € à partir de 0, "
    "2 000 € à partir de 50",
    "rcai / effectif": "le rapport entre le résultat courant avant impôt (RCAI) et l'effectif",
    "0.02 * rcai if rcai > 0 and ebe <= 0 else 0": "2 % du résultat courant avant impôt (RCAI) si le résultat "
    "courant avant impôt (RCAI) dépasse 0 et l'excédent brut d'exploitation (EBE) ne dépasse pas 0, sinon 0 €",
    "rcai if rcai < 0 or ebe != 0 else 0": "le résultat courant avant impôt (RCAI) si le résultat courant avant "
    "impôt (RCAI) reste sous 0 ou l'excédent brut d'exploitation (EBE) diffère de 0, sinon 0 €",
    "rcai if effectif else 0": "le résultat courant avant impôt (RCAI) si l'effectif, sinon 0 €",
    "abs(rcai)": "la valeur absolue du résultat courant avant impôt (RCAI)",
    "clip(rcai, 0, 100000)": "le résultat courant avant impôt (RCAI), ramené entre 0 € et 100 000 €",
    "pct(taux) * payroll": "le taux % multiplié par la masse salariale brute de la période",
    "above(rcai, 50000)": "la part du résultat courant avant impôt (RCAI) au-delà de 50 000 €",
    "1000 * achievement(rcai, seuil, cible)": "1 000 € multipliés par le taux d'atteinte de l'objectif sur le "
    "résultat courant avant impôt (RCAI)",
    "achievement(effectif, 10, 20)": "le taux d'atteinte de l'objectif sur l'effectif (0 % jusqu'à 10, 100 % à "
    "partir de 20, en proportion entre les deux)",
    "weighted()": "la moyenne pondérée des critères de l'accord",
    "prior(rcai)": "le résultat courant avant impôt (RCAI) de la période précédente",
    "prior(rcai, 2)": "le résultat courant avant impôt (RCAI) de la période d'il y a 2 périodes",
    "progress(rcai)": "la progression du résultat courant avant impôt (RCAI) par rapport à la période précédente",
    "max(rcai, ebe, 0)": "le plus élevé du résultat courant avant impôt (RCAI), de l'excédent brut "
    "d'exploitation (EBE) et de 0 €",
    "min(rcai, 1000)": "le plus faible du résultat courant avant impôt (RCAI) et de 1 000 €",
    # what the language has no words for is shown as written
    "sqrt(rcai)": "sqrt(rcai)",
    "rcai // 2": "rcai // 2",
    "rcai > 0": "rcai > 0",
}


@pytest.mark.parametrize("formula", list(SENTENCES))
def test_each_form_reads_as_its_french_words(formula):
    labels = {"x": "le taux x", "taux": {"label": "le taux"}}  # a bare label, or a label without a unit
    assert plain(sentence(formula, labels)) == SENTENCES[formula]


def test_a_floor_at_zero_is_left_out_of_the_terms_and_a_figure_without_value_is_not_listed():
    t = tables("max(0, rcai - 1000)", {"rcai": Decimal(5000)}, {"rcai", "ebe"})
    assert [(plain(x["text"]), plain(x["value"])) for x in t["terms"]] == [
        ("le résultat courant avant impôt (RCAI)", "5 000,00 €"),
        ("moins 1 000 €", "–1 000,00 €"),
    ]
    assert plain(t["value"]) == "4 000,00 €"
    t = tables("rcai + ebe", {"rcai": Decimal(5000)}, {"rcai", "ebe"})
    assert [f["name"] for f in t["figures"]] == ["rcai"] and t["value"] == ""
    assert [plain(x["value"]) for x in t["terms"]] == ["5 000,00 €", ""]


def test_a_step_table_marks_the_level_reached():
    f = "step(effectif, [[0, 0.01], [50, 0.02]]) * payroll"
    (t,) = tables(f, {"effectif": Decimal(60), "payroll": Decimal(100000)}, {"effectif", "payroll"})[
        "brackets"
    ]
    assert t["kind"] == "step" and t["x"] == "60"
    assert [(r["range"], plain(r["rate"]), r["reached"]) for r in t["rows"]] == [
        ("à partir de 0", "1 %", False),
        ("à partir de 50", "2 %", True),
    ]
    (t,) = tables("step(effectif, [[0, 1000], [50, 2000]])", {"effectif": Decimal(10)}, {"effectif"})[
        "brackets"
    ]
    assert [(plain(r["rate"]), r["reached"]) for r in t["rows"]] == [("1 000 €", True), ("2 000 €", False)]
