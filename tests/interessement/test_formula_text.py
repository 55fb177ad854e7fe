"""An agreement's formula told in plain French for the statement's annex, with its tables of the year's figures."""

from decimal import Decimal

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
