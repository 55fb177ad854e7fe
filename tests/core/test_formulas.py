"""The agreement formula language: seed examples as golden cases, exactness, refusals (LAW I-1 to I-3, R-8)."""

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st
from paybonus.formulas import Formula, FormulaError

FIG = {
    "rcai",
    "rsp",
    "chiffre_affaires",
    "valeur_ajoutee",
    "frais_personnel",
    "effectif",
    "marge_brute",
    "resultat_exploitation",
    "resultat_net",
    "payroll",
    "taux_service",
    "pieces_sans_defaut",
    "defauts",
    "ro_budget",
}


def ev(src, prior=None, **figs):
    value, _ = Formula.parse(src, FIG).evaluate({k: D(str(v)) for k, v in figs.items()}, prior)
    return value


# interessement-bases.txt: weighted objective, 85 % between a threshold of 80 % and a target of 90 %, weight 20 %
def test_seed_weighted_objective_gives_ten_percent():
    assert ev("0.20 * achievement(taux_service, 0.80, 0.90)", taux_service="0.85") == D("0.1")


# interessement-bases.txt: RCAI grid 0/3/7/10 % applied to the whole RCAI
GRID = "step(rcai, [[0, 0], [50000, 0.03], [100000, 0.07], [150000, 0.10]]) * rcai"


@pytest.mark.parametrize(
    ("rcai", "pool"), [(49999, 0), (50000, 1500), (99999, "2999.97"), (120000, 8400), (400000, 40000)]
)
def test_seed_rcai_grid(rcai, pool):
    assert ev(GRID, rcai=rcai) == D(str(pool))


# interessement-formules-projet.txt: tranches 0 % to 50 k€, 10 % to 150 k€, 15 % above
def test_seed_tranches():
    f = "brackets(rcai, [[0, 0], [50000, 0.10], [150000, 0.15]])"
    assert ev(f, rcai=40000) == 0
    assert ev(f, rcai=150000) == D("10000")
    assert ev(f, rcai=366937) == D("42540.55")


# interessement-formules-projet.txt: coupling with participation, 5 % RCAI - RSP, never below zero (I-3, R-8)
def test_seed_coupling_with_participation():
    f = "max(0, 0.05 * rcai - rsp)"
    assert ev(f, rcai=366937, rsp=9173) == D("9173.85")
    assert ev(f, rcai=100000, rsp=9000) == 0


def test_seed_examples_all_expressible():
    assert ev("0.20 * rcai", rcai=1000) == 200
    assert ev("0.20 * above(rcai, 50000)", rcai=80000) == 6000
    assert ev("min(0.20 * rcai, 0.05 * payroll)", rcai=1_000_000, payroll=2_000_000) == 100000
    # rate chosen by another ratio: frais de personnel / valeur ajoutée
    ratio = "step(frais_personnel / valeur_ajoutee, [[0, 0.04], [0.38, 0.02], [0.42, 0.01]]) * payroll"
    assert ev(ratio, frais_personnel=40, valeur_ajoutee=100, payroll=1000) == 20
    # 2 % of payroll if operating result beats the budget
    assert (
        ev(
            "0.02 * payroll if resultat_exploitation > ro_budget else 0",
            resultat_exploitation=5,
            ro_budget=4,
            payroll=100,
        )
        == 2
    )
    # fixed amounts by range: < 85 % nothing, 85-90 % 40 k€, above 91 % 70 k€
    fixed = "step(taux_service, [[0, 0], [0.85, 40000], [0.91, 70000]])"
    assert [ev(fixed, taux_service=x) for x in ("0.80", "0.88", "0.95")] == [0, 40000, 70000]
    # decreasing objective (defects): (threshold - result) / (threshold - target)
    assert ev("achievement(defauts, 0.05, 0.02)", defauts="0.035") == D("0.5")
    # progress against the previous period
    prior = {("chiffre_affaires", 1): D("1400000")}.__getitem__
    assert ev(
        "0.03 * above(chiffre_affaires, prior(chiffre_affaires) * 1.02)",
        lambda n, k: prior((n, k)),
        chiffre_affaires=1_500_000,
    ) == D("2160.00")
    assert ev("progress(chiffre_affaires)", lambda n, k: D(1000), chiffre_affaires=1100) == D("0.1")
    assert ev("weighted([[0.5, achievement(taux_service, 0.8, 0.9)], [0.5, 1]])", taux_service="0.9") == 1
    assert ev("clip(pct(7), 0, 0.05)") == D("0.05")


def test_literals_are_exact_decimals():
    assert ev("0.1 + 0.2") == D("0.3")
    assert ev("1_000_000.01 * 3") == D("3000000.03")


@pytest.mark.parametrize(
    ("src", "message"),
    [
        ("rcia * 0.05", "unknown figure 'rcia' (did you mean 'rcai'?)"),
        ("__import__('os').system('x')", "unknown function"),
        ("rcai.__class__", "attribute is not allowed"),
        ("(lambda: 1)()", "unknown function"),
        ("[x for x in [1]]", "listcomp is not allowed"),
        ("rcai ** 2", "operator Pow is not allowed"),
        ("2 ** 99999999", "operator Pow is not allowed"),
        ("rcai[0]", "subscript is not allowed"),
        ("'abc'", "only numbers"),
        ("1e999", "number literal too long"),
        ("9" * 40, "number literal too long"),
        ("max(0, " * 100 + "1" + ")" * 100, "nested too deeply"),
        ("+".join(["rcai"] * 500), "nested too deeply"),
        ("max(" + ", ".join(["rcai"] * 500) + ")", "formula too long"),
        ("1" + " " * 5000, "longer than 4000"),
        ("brackets(rcai, 5)", "needs a table"),
        ("min(rcai)", "min takes 2 or more arguments"),
        ("prior(3)", "prior takes a figure name"),
        ("rcai = 1", "syntax error"),
        ("", "empty formula"),
        ("max(0, rcai, key=1)", "keyword arguments"),
        ("eval", "unknown figure 'eval'"),
        ("1if rcai else 2", "invalid decimal literal"),
    ],
)
def test_refused_at_load(src, message):
    with pytest.raises(FormulaError) as info:
        Formula.parse(src, FIG)
    assert message in str(info.value)


def test_runtime_errors_are_clear():
    with pytest.raises(FormulaError, match="division by zero"):
        ev("rcai / effectif", rcai=1, effectif=0)
    with pytest.raises(FormulaError, match="missing from the published results"):
        Formula.parse("rcai", FIG).evaluate({})
    with pytest.raises(FormulaError, match="bounds of the table must increase"):
        ev("step(rcai, [[10, 1], [5, 2]])", rcai=1)
    with pytest.raises(FormulaError, match="not an amount"):
        ev("rcai > 1", rcai=2)


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=2))
def test_brackets_are_continuous_and_monotonic(x):
    f = "brackets(rcai, [[0, 0], [50000, 0.10], [150000, 0.15]])"
    a = ev(f, rcai=x)
    b = ev(f, rcai=x + D("0.01"))
    assert D(0) <= b - a <= D("0.0015")


@given(
    st.decimals(min_value=-10, max_value=10, places=4),
    st.decimals(min_value=-5, max_value=5, places=2),
    st.decimals(min_value=-5, max_value=5, places=2),
)
def test_achievement_is_between_zero_and_one(actual, threshold, target):
    if threshold != target:
        v = ev(f"achievement(taux_service, {threshold}, {target})", taux_service=actual)
        assert 0 <= v <= 1


@pytest.mark.parametrize("src", ["0x0", "0o7", "0b1", "0X1F"])
def test_python_only_number_forms_are_refused_with_a_formula_error(src):
    # found by the fuzz test: Decimal('0x0') raised InvalidOperation instead of a one-line error
    with pytest.raises(FormulaError, match="not a decimal number"):
        Formula.parse(src, {"rcai"})


# Golden cases that pin each function of the language to its definition, its trace and its refusals (mutation
# testing, docs/testing.md). The trace is what `paybonus explain` shows of a formula (D3313-9: how the pool was
# found), so its text is pinned too.


def evaluate(src, prior=None, **figs):
    return Formula.parse(src, set(figs) | FIG).evaluate({k: D(str(v)) for k, v in figs.items()}, prior)


def test_each_function_of_the_language_and_its_trace():
    assert evaluate("abs(0 - rcai)", rcai="12.50") == (D("12.50"), ["abs(-12.5) = 12.5"])
    assert evaluate("pct(7)") == (D("0.07"), ["pct(7) = 0.07"])
    assert evaluate("above(1, 5)") == (D(0), ["above(1, 5) = 0"])
    assert evaluate("above(rcai, 5)", rcai=8) == (D(3), ["above(8, 5) = 3"])
    assert evaluate("clip(rcai, 1, 1)", rcai="12.5") == (
        D(1),
        ["clip(12.5, 1, 1) = 1"],
    )  # lo == hi is allowed
    assert evaluate("max(0, 0.05 * rcai - 10)", rcai="12.50") == (D(0), ["max(0, -9.375) = 0"])
    assert evaluate("min(rcai, 2)", rcai=3)[0] == 2
    assert evaluate("weighted([[0.5, 2], [0.25, 4]])") == (D(2), ["weighted([...]) = 2"])
    assert evaluate("step(rcai, [[10, 1]])", rcai=5) == (
        D(0),
        ["step(5, [...]) = 0"],
    )  # below the first bound
    assert evaluate("step(rcai, [[10, 1]])", rcai=10)[0] == 1
    assert evaluate("brackets(rcai, [[0, 0.5], [10, 0.1]])", rcai=30)[0] == D(7)  # 10 x 0.5 + 20 x 0.1


def test_prior_and_progress_read_the_period_asked_for_and_show_it():  # I-2: a formula may compare periods
    def prior(name, k):
        return {("rcai", 1): D(10), ("rcai", 2): D(20), ("rcai", 4): D(1)}[(name, k)]

    assert evaluate("prior(rcai, 2) + progress(rcai)", prior, rcai="12.50") == (
        D("20.25"),
        ["prior(rcai, 2) = 20", "progress(rcai) = 0.25"],
    )
    assert evaluate("prior(rcai)", prior, rcai=1) == (D(10), ["prior(rcai) = 10"])
    assert evaluate("prior(rcai, 4)", prior, rcai=3) == (D(1), ["prior(rcai, 4) = 1"])
    assert evaluate("progress(rcai)", lambda n, k: D(1), rcai=3) == (D(2), ["progress(rcai) = 2"])
    with pytest.raises(FormulaError, match=r"progress\(rcai\): the earlier value is zero"):
        evaluate("progress(rcai)", lambda n, k: D(0), rcai=3)
    with pytest.raises(FormulaError, match=r"prior\(rcai\) needs the results of earlier periods"):
        evaluate("prior(rcai)", None, rcai=3)


@pytest.mark.parametrize(
    "fn", ["max", "min", "abs", "pct", "above", "clip", "achievement", "step", "brackets"]
)
def test_a_condition_where_a_number_is_expected_is_refused_naming_the_function(fn):
    args = {
        "max": "rcai > 1, 0",
        "min": "0, rcai > 1",
        "abs": "rcai > 1",
        "pct": "rcai > 1",
        "above": "1, rcai > 1",
        "clip": "rcai > 1, 0, 1",
        "achievement": "0, 1, rcai > 1",
        "step": "rcai > 1, [[0, 1]]",
        "brackets": "rcai, [[0, rcai > 1]]",
    }[fn]
    with pytest.raises(FormulaError, match=rf"^{fn}: expected a number$"):
        evaluate(f"{fn}({args})", rcai=2)
    with pytest.raises(FormulaError, match=r"^weighted: expected a number$"):
        evaluate("weighted([[1, rcai > 1]])", rcai=2)
    with pytest.raises(FormulaError, match=r"^step: expected a number$"):
        evaluate("step(rcai, [[rcai > 1, 1]])", rcai=2)


def test_a_table_with_a_repeated_bound_is_refused():
    with pytest.raises(FormulaError, match="step: the bounds of the table must increase"):
        evaluate("step(rcai, [[0, 0], [0, 1]])", rcai=2)
    assert evaluate("weighted([[0.5, 1], [0.5, 1]])")[0] == 1  # weights are not bounds: they may repeat


def test_a_refusal_at_parse_time_names_the_column():
    with pytest.raises(FormulaError, match=r"^unknown figure 'foo' \(column 8\)$"):
        Formula.parse("rcai + foo", {"rcai"})
    with pytest.raises(FormulaError, match=r"\(column 1\)$"):
        Formula.parse("rcai ** 2", {"rcai"})


def test_what_a_formula_reads_now_and_from_earlier_periods():  # I-2: what the results must publish
    f = Formula.parse("progress(rcai) + prior(payroll, 3) + chiffre_affaires", FIG)
    assert f.names == frozenset({"rcai", "chiffre_affaires"})
    assert f.prior_names == frozenset({"rcai", "payroll"})
    assert f.max_prior == 3
    g = Formula.parse("prior(rcai)", FIG)
    assert (g.names, g.prior_names, g.max_prior) == (frozenset(), frozenset({"rcai"}), 1)
    assert Formula.parse("rcai", FIG).max_prior == 0


@pytest.mark.parametrize("k", ["0", "11", "1.5", "True", "rcai"])
def test_prior_looks_back_1_to_10_whole_periods(k):
    with pytest.raises(FormulaError, match="prior's second argument is a whole number of periods, 1 to 10"):
        Formula.parse(f"prior(rcai, {k})", FIG)


def test_prior_at_the_ends_of_its_range():
    assert evaluate("prior(rcai, 1)", lambda n, k: D(k))[0] == 1
    assert evaluate("prior(rcai, 10)", lambda n, k: D(k))[0] == 10


@pytest.mark.parametrize(
    ("src", "message"),
    [
        ("abs(1, 2)", "abs takes 1 arguments, got 2 (column 1)"),
        ("clip(1)", "clip takes 3 arguments, got 1 (column 1)"),
        ("max()", "max takes 2 or more arguments, got 0 (column 1)"),
        ("prior(rcai, 1, 2)", "prior takes 1 to 2 arguments, got 3 (column 1)"),
        ("progress(rcai, 2)", "progress takes 1 arguments, got 2 (column 1)"),
        ("rcai.x()", "unknown function 'this call' (known: above, abs, achievement"),
        ("step(rcai, [])", "step needs a table of [bound, value] rows"),
        ("step(rcai, [[1, 2, 3]])", "step needs a table of [bound, value] rows"),
        ("weighted([1, 2])", "weighted needs a table of [bound, value] rows"),
        ("brackets(rcai, [[0, 1], 2])", "brackets needs a table of [bound, value] rows"),
    ],
)
def test_calls_are_checked_at_load_with_a_message_that_says_what_to_write(src, message):
    with pytest.raises(FormulaError) as exc:
        Formula.parse(src, FIG)
    assert str(exc.value).startswith(message)


def test_runtime_refusals_name_the_operand_and_the_division():
    with pytest.raises(FormulaError, match=r"^left operand: expected a number$"):
        evaluate("(rcai > 1) + 1", rcai=2)
    with pytest.raises(FormulaError, match=r"^right operand: expected a number$"):
        evaluate("1 + (rcai > 1)", rcai=2)
    with pytest.raises(FormulaError, match=r"^division by zero in 'rcai / 0'$"):
        evaluate("rcai / 0", rcai=2)


def test_arithmetic_runs_at_40_digits_and_amounts_stop_below_10_to_the_18():
    assert evaluate("1 / 3 * 3")[0] == D("0." + "9" * 40)  # the formula context, not Python's 28 digits
    assert evaluate("rcai * 1", rcai=10**18 - 1)[0] == 10**18 - 1
    with pytest.raises(FormulaError):
        evaluate("rcai * 1", rcai=10**18)


def test_the_limits_of_a_formula_are_inclusive():  # a fuzzer guard: refused past them, with the reason
    from paybonus.formulas import MAX_DEPTH, MAX_NODES, MAX_SOURCE

    assert Formula.parse("-" * MAX_DEPTH + "1", FIG)
    with pytest.raises(FormulaError, match=f"nested too deeply \\(more than {MAX_DEPTH} levels\\)"):
        Formula.parse("-" * (MAX_DEPTH + 1) + "1", FIG)
    assert Formula.parse("max(" + ", ".join(["1"] * (MAX_NODES - 1)) + ")", FIG)  # the call and its arguments
    with pytest.raises(FormulaError, match=f"formula too long \\(more than {MAX_NODES} elements\\)"):
        Formula.parse("max(" + ", ".join(["1"] * MAX_NODES) + ")", FIG)
    assert Formula.parse("rcai" + " " * (MAX_SOURCE - 4), FIG)
    with pytest.raises(FormulaError):
        Formula.parse("rcai" + " " * (MAX_SOURCE - 3), FIG)
    assert evaluate("1" * 17)[0] == D("1" * 17)
    assert Formula.parse("0." + "1" * 23, FIG)  # 24 digits are read
    with pytest.raises(FormulaError, match="number literal too long"):
        Formula.parse("1" * 25, FIG)
    assert evaluate("1_000.5")[0] == D("1000.5")


def test_an_unknown_figure_suggests_the_closest_one():
    with pytest.raises(FormulaError, match=r"^unknown figure 'rcia' \(did you mean 'rcai'\?\) \(column 1\)$"):
        Formula.parse("rcia", FIG)
    with pytest.raises(FormulaError, match=r"^unknown figure 'zzz' \(column 1\)$"):
        Formula.parse("zzz", FIG)


def test_signs_not_and_comparisons():
    assert evaluate("-rcai", rcai=2)[0] == -2
    assert evaluate("+rcai", rcai=2)[0] == 2
    assert evaluate("1 if not (rcai > 1) else 2", rcai=1)[0] == 1
    assert evaluate("1 if not (rcai > 1) else 2", rcai=3)[0] == 2
    for src in ("-(rcai > 1)", "+(rcai > 1)"):
        with pytest.raises(FormulaError, match=r"^operand: expected a number$"):
            evaluate(src, rcai=2)
    for src in ("1 if (rcai > 1) < 2 else 0", "1 if 1 < (rcai > 1) else 0"):
        with pytest.raises(FormulaError, match=r"^comparison: expected a number$"):
            evaluate(src, rcai=2)
    table = {
        "<": (0, 1, 0),
        "<=": (1, 1, 0),
        ">": (0, 0, 1),
        ">=": (1, 0, 1),
        "==": (1, 0, 0),
        "!=": (0, 1, 1),
    }
    for op, expected in table.items():  # rcai = 2 compared with 2, 3 and 1
        got = tuple(int(evaluate(f"1 if rcai {op} {b} else 0", rcai=2)[0]) for b in (2, 3, 1))
        assert got == expected, op
    assert evaluate("1 if 1 < rcai < 3 else 0", rcai=2)[0] == 1
    assert evaluate("1 if 1 < rcai < 3 else 0", rcai=3)[0] == 0
    assert evaluate("1 if rcai > 1 and rcai < 3 else 0", rcai=4)[0] == 0
    assert evaluate("1 if rcai > 1 and rcai < 3 else 0", rcai=2)[0] == 1  # both conditions hold
    assert evaluate("1 if rcai < 1 or rcai > 3 else 0", rcai=4)[0] == 1
    with pytest.raises(FormulaError, match="the formula gives a condition or a table, not an amount"):
        evaluate("rcai > 1", rcai=2)


# Each refusal of the formula language, word for word: the message is the one line `paybonus` prints (exit 2) when
# an agreement's formula is refused (I-1: the pool comes from a calculation formula; I-3, R-8: one that cannot
# guarantee an amount by accident). Killed mutants of the mutation run (docs/testing.md): the name of an unknown
# function, the function or operand a refusal names.
KNOWN = "above, abs, achievement, brackets, clip, max, min, pct, prior, progress, step, weighted"


@pytest.mark.parametrize(
    ("src", "message"),
    [
        ("foo(1)", f"unknown function 'foo' (known: {KNOWN}) (column 1)"),
        ("1 + rcai.x()", f"unknown function 'this call' (known: {KNOWN}) (column 5)"),
        ("max(rcai, 1", "syntax error at column 4: '(' was never closed"),
        ("max", "max is a function: call it as max(...) (column 1)"),
        ("0x1F", "'0x1F' is not a decimal number (write digits with a dot) (column 1)"),
        ("rcai # 5 %", "a formula has no comments: write them in the TOML, outside the string"),
    ],
)
def test_each_refusal_at_load_word_for_word(src, message):
    with pytest.raises(FormulaError) as info:
        Formula.parse(src, FIG)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("src", "figures", "message"),
    [
        ("rcai / effectif", {"rcai": D(1), "effectif": D(0)}, "division by zero in 'rcai / effectif'"),
        ("above(rcai > 1, 1)", {"rcai": D(2)}, "above: expected a number"),
        ("above(1, rcai > 1)", {"rcai": D(2)}, "above: expected a number"),
        ("abs([1, 2])", {}, "abs: expected a number"),  # a table where a number is expected
        ("[1, 2] + 1", {}, "left operand: expected a number"),
        ("progress(rcai)", {"rcai": True}, "rcai: expected a number"),  # a figure that is not a number
        ("clip(1, 2, 1)", {}, "clip: lower bound 2 above upper bound 1"),
        ("achievement(rcai, 1, 1)", {"rcai": D(2)}, "achievement: threshold and target must differ"),
    ],
)
def test_each_refusal_at_evaluation_word_for_word(src, figures, message):
    with pytest.raises(FormulaError) as info:
        Formula.parse(src, FIG).evaluate(figures, lambda _n, _k: D(1))
    assert str(info.value) == message


def test_brackets_count_a_tranche_reached_by_less_than_one():  # I-1: marginal rates, to the last cent
    f = "brackets(rcai, [[0, 0.1], [10, 0.2]])"
    assert evaluate(f, rcai="10.5")[0] == D("1.1")  # 10 x 0.1 + 0.5 x 0.2
    assert evaluate(f, rcai="11")[0] == D("1.2")  # exactly 1 above the second bound


# The load-time probe (`Formula._probe`): what would only fail at compute time is refused when the agreement is
# loaded, not in the middle of a calculation (I-1, I-3). Pinned with `Formula.parse` alone: evaluating would
# raise the same words later and hide a probe that no longer runs.
OVERFLOW = "the formula overflows for figures near 10^15 (the largest any input may hold)"


@pytest.mark.parametrize(
    ("src", "message"),
    [
        ("rcai / 0", "division by zero in 'rcai / 0'"),
        ("rcai / (2 - 2)", "division by zero in 'rcai / (2 - 2)'"),
        ("rcai / (1 / 0)", "division by zero in 'rcai / (1 / 0)'"),  # a denominator that cannot be computed
        ("rcai * rcai * rcai * rcai * 100", OVERFLOW),  # (10^15)^4 x 100 = 10^62: beyond the 40-digit context
        ("above(0, rcai) * rcai * rcai * rcai * 100", OVERFLOW),  # only for figures near -10^15
        ("prior(rcai) * prior(rcai) * prior(rcai) * prior(rcai) * 100", OVERFLOW),  # earlier periods too
    ],
)
def test_the_probe_refuses_at_load_what_would_fail_at_compute_time(src, message):
    with pytest.raises(FormulaError) as info:
        Formula.parse(src, FIG)
    assert str(info.value) == message


def test_the_probe_keeps_what_figures_within_range_can_compute():
    # the largest figure any input may hold is 10^15 - 1, of either sign: (10^15 - 1)^4 x 10 < 10^61 still fits
    assert Formula.parse("rcai * rcai * rcai * rcai * 10", FIG)
    assert Formula.parse("above(0, rcai) * rcai * rcai * rcai * 10", FIG)
    # the probe computes in the formula's 40 digits: 1 + 10^-28 - 1 is not zero there (it is at Python's 28)
    assert Formula.parse("rcai / (1 + 0.0000000000000000000001 * 0.000001 - 1)", FIG)
    # a division by figures is kept for compute time, when the figures are known (one may be zero that period)
    f = Formula.parse("rcai / (rcai - effectif)", FIG)
    with pytest.raises(FormulaError) as info:
        f.evaluate({"rcai": D(2), "effectif": D(2)})
    assert str(info.value) == "division by zero in 'rcai / (rcai - effectif)'"
