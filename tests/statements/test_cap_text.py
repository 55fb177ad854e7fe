"""The annex's sentence on the 20 % global cap (I-17): what it says when later periods, computed first, took room."""

from paybonus.plugins.interessement.annex import global_cap_text


def plain(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")  # French typography's narrow spaces


BASE = {"payroll_cents": 12_000_000, "global_cap_cents": 2_400_000, "pool_raw_cents": 1_000_000}


def test_a_pool_reduced_by_later_periods_says_so_and_how_much_they_took():
    summary = {**BASE, "pool_cents": 500_000, "later_in_exercise_cents": 1_900_000}
    text = plain(global_cap_text(summary, "l'intéressement", {}))
    assert "et 19 000,00 € attribués au titre des périodes suivantes, calculées avant celle-ci" in text
    assert "ramené à ce que ce plafond permet encore" in text and "ramené à ce plafond." not in text
    assert text.endswith("Montant à répartir : 5 000,00 €.")


def test_without_later_periods_the_sentence_is_unchanged():
    reduced = global_cap_text({**BASE, "pool_cents": 500_000}, "l'intéressement", {})
    assert "ramené à ce plafond." in reduced and "périodes suivantes" not in reduced
    fits = global_cap_text({**BASE, "pool_cents": 1_000_000}, "l'intéressement", {})
    assert "il n'est pas atteint." in fits
