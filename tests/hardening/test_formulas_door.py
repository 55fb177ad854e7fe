"""Issue 13, "Formulas": a comment no longer drops the rest of a formula; a division by zero or an overflow is
refused when the company is loaded, not found at compute time."""

from __future__ import annotations

import pytest
from helpers.hostile import attempt
from paybonus.formulas import Formula, FormulaError

FORMULA = 'formula = "brackets(rcai, [[0, 0], [50000, 0.10], [150000, 0.15]])"'

BAD = {
    "a comment drops the rest": 'formula = """0.1 * rcai # ten percent\n - 1000000"""',
    "division by a literal zero": 'formula = "rcai / 0"',
    "division by a zero expression": 'formula = "rcai / (2 - 2)"',
    "division by zero in a table bound": 'formula = "rcai * (1 / (0.5 - 0.5))"',
    "overflow for figures in range": 'formula = "rcai * rcai * rcai * rcai * rcai"',
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_formula_refused_at_load(work, case):
    line = attempt(case, work.fresh, "load", str(work.toml(FORMULA, BAD[case])))
    assert "formula" in line


def test_multiline_formula_keeps_every_line():
    f = Formula.parse("0.1 * rcai\n - 1000", {"rcai"})
    assert f.evaluate({"rcai": __import__("decimal").Decimal(20000)})[0] == 1000


@pytest.mark.parametrize("src", ["rcai # x", "# only\n rcai", "rcai + 1 #"])
def test_comment_refused(src):
    with pytest.raises(FormulaError, match="comment"):
        Formula.parse(src, {"rcai"})


def test_division_by_a_figure_is_kept_for_compute_time():
    """A figure may be zero only in some periods: that division stays (its compute-time error is reported)."""
    Formula.parse("rcai / valeur_ajoutee", {"rcai", "valeur_ajoutee"})
