"""French typography of the documents people read, and CSG/CRDS rounded once (LAW 0.3)."""

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from paybonus.french import NBSP, NNBSP, date_fr, de, eur, eur0, euros, nb, percent, period_fr, plural, siren
from paybonus.params import Parameters, csg_crds

P = Parameters.default()


def test_amounts_have_narrow_spaces_in_thousands_and_a_no_break_space_before_the_euro():
    assert eur(177301) == f"1{NNBSP}773,01{NBSP}€"
    assert eur(4254055) == f"42{NNBSP}540,55{NBSP}€"
    assert eur(5) == f"0,05{NBSP}€"
    assert eur(-17199) == f"\u2013171,99{NBSP}€"  # en dash: the shipped font has no U+2212
    assert eur0(4710000) == f"47{NNBSP}100{NBSP}€" and eur0(4710001) == f"47{NNBSP}100,01{NBSP}€"
    assert euros(Decimal("50000")) == f"50{NNBSP}000{NBSP}€"
    assert euros(Decimal("32540.55")) == f"32{NNBSP}540,55{NBSP}€"


def test_rates_dates_and_words():
    assert percent(Decimal("0.097")) == f"9,7{NBSP}%" and percent("0.75") == f"75{NBSP}%"
    assert date_fr(date(2025, 1, 1)) == f"1er{NBSP}janvier{NBSP}2025"
    assert date_fr("2026-05-31") == f"31{NBSP}mai{NBSP}2026"
    assert period_fr(date(2025, 1, 1), date(2025, 12, 31)).replace(NBSP, " ") == (
        "du 1er janvier au 31 décembre 2025"
    )
    assert period_fr("2025-07-01", "2026-06-30").replace(NBSP, " ") == "du 1er juillet 2025 au 30 juin 2026"
    assert plural(1, "jour", "jours") == f"1{NBSP}jour" and plural(365, "jour", "jours") == f"365{NBSP}jours"
    assert de("Atelier Durand SAS") == "d'Atelier Durand SAS" and de("Durand SA") == "de Durand SA"
    assert siren("812345678") == f"812{NBSP}345{NBSP}678"
    assert nb("Contact : RH") == f"Contact{NBSP}: RH"


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_an_amount_reads_back_to_its_cents(cents):
    text = eur(cents).replace(NNBSP, "").replace(NBSP + "€", "").replace("\u2013", "-").replace(",", "")
    assert int(text) == cents


def test_csg_is_rounded_once_so_paid_and_placed_withhold_the_same():
    # 1 773,01 €: 6.8 % and 2.4 % rounded apart give 163,11 €, 9.2 % once gives 163,12 € (the old one-cent gap)
    c = csg_crds(P, 177301, date(2025, 12, 31))
    assert (c.csg_cents, c.csg_deductible_cents, c.csg_non_deductible_cents, c.crds_cents) == (
        16312,
        12056,
        4256,
        887,
    )
    assert c.withheld_cents == 17199 and c.rate == Decimal("0.097")


@given(st.integers(min_value=0, max_value=10**11))
def test_csg_parts_add_up_and_each_is_within_half_a_cent(cents):
    c = csg_crds(P, cents, date(2025, 12, 31))
    assert c.csg_deductible_cents + c.csg_non_deductible_cents == c.csg_cents
    assert abs(c.csg_cents - cents * Decimal("0.092")) <= Decimal("0.5")
    assert abs(c.csg_non_deductible_cents - cents * Decimal("0.024")) <= 1
    assert c.withheld_cents == c.csg_cents + c.crds_cents
