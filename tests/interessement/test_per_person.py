"""The per-person facts of intéressement computed once per set of contracts and per distinct value (issue 17) give
exactly what `_presence` and `_salary` give person by person (I-13, I-25 to I-28, D-3, D-13)."""

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import example, given, settings
from hypothesis import strategies as st
from paybonus.calendar import Period, add_months
from paybonus.payroll import Absence, AbsenceKind, Contract, EmployeeRecord, PayLine
from paybonus.plugins.interessement.shared import (
    _ByContracts,
    _Memo,
    _presence,
    _presence_of,
    _salary,
    _salary_of,
)

FULL = Decimal("151.67")
YEAR = Period(date(2025, 1, 1), date(2025, 12, 31))
# a calculation period that does not start on the first of a month, too (months clipped to it)
ODD = Period(date(2025, 3, 10), date(2025, 9, 20))
HOURS = [FULL, Decimal("151.670"), Decimal("75.84"), Decimal("121.34"), Decimal("0"), Decimal("169")]

day = st.integers(-400, 800).map(lambda n: date(2025, 1, 1) + timedelta(days=n))


@st.composite
def contracts(draw):
    out = []
    for _ in range(draw(st.integers(1, 3))):
        start = draw(day)
        end = draw(st.one_of(st.none(), st.integers(0, 500).map(lambda n, s=start: s + timedelta(days=n))))
        out.append(Contract(start, end))
    return tuple(out)


@st.composite
def employees(draw, i, shared_contracts):
    cs = draw(st.one_of(st.just(shared_contracts), contracts()))
    lines = []
    for m in range(-2, 14):
        if draw(st.integers(0, 9)) == 0:
            continue  # a month without a pay line
        first = add_months(date(2025, 1, 1), m)
        lines.append(
            PayLine(
                first,
                draw(st.sampled_from([0, 250_000, 312_345])),
                draw(st.sampled_from([0, 250_000, 400_000])),
                draw(st.sampled_from(HOURS)),
                draw(st.sampled_from([Decimal(0), Decimal(0), Decimal("12.5"), Decimal("-1")])),
                draw(st.sampled_from([0, 0, 50_000])),
                draw(st.sampled_from([None, None, 330_000])),
                draw(st.sampled_from([0, 0, 21_000])),
            )
        )
    if lines and draw(st.booleans()):  # two lines in one month: the last one's hours count
        lines.append(PayLine(lines[-1].month, 1, 1, draw(st.sampled_from(HOURS))))
    absences = tuple(
        Absence(draw(st.sampled_from(list(AbsenceKind))), s, s + timedelta(days=draw(st.integers(0, 90))))
        for s in draw(st.lists(day, max_size=3))
    )
    return EmployeeRecord(f"E{i:03d}", cs, tuple(lines), draw(st.sampled_from([(), absences])))


@st.composite
def populations(draw):
    shared = draw(contracts())
    return [draw(employees(i, shared)) for i in range(draw(st.integers(1, 12)))]


@settings(max_examples=60, deadline=None)
@given(populations(), st.sampled_from([YEAR, ODD]), st.booleans())
def test_presence_and_salary_are_what_they_were_person_by_person(people, calc, with_cp):
    months = list(calc.months())
    month_of = {m.start.replace(day=1): m for m in months}
    window = Period(add_months(calc.start, -12), calc.end)
    memo = _Memo(FULL)
    by_contracts: dict = {}
    for emp in people:
        known = by_contracts.setdefault(emp.contracts, _ByContracts(emp, calc, window, False))
        assert known.days == emp.employed_days(calc)
        if not known.days:
            continue
        lines = [p for p in emp.pay if calc.start <= p.month <= calc.end]
        got = _presence_of(emp, calc, known, months, lines, memo)
        want = _presence(emp, calc, months, FULL)
        assert got == want and str(got[2]) == str(want[2])  # the ratio is shown in the explanation
        assert _salary_of(emp, calc, month_of, with_cp, lines) == _salary(emp, calc, month_of, with_cp)


@settings(max_examples=500)
@given(
    st.one_of(st.integers(-(10**15) + 1, 10**15 - 1), st.integers(-(10**30), 10**30)),
    st.integers(0, 14).flatmap(
        lambda places: st.decimals(min_value=Decimal("-2"), max_value=Decimal("2"), places=places)
    ),
)
def test_levies_in_integers_round_as_decimal_does(cents, rate):
    from decimal import ROUND_HALF_UP

    from paybonus.money import share_half_up as _half_up_of
    from paybonus.plugins.interessement.shared import _EXACT_BELOW, _fraction

    want = int((Decimal(cents) * rate).to_integral_value(ROUND_HALF_UP))
    f = _fraction(rate)
    if f is not None and -_EXACT_BELOW < cents < _EXACT_BELOW:  # where `Levies.of` uses integers
        assert _half_up_of(cents, *f) == want


@settings(max_examples=40, deadline=None)
@given(populations(), st.sampled_from([YEAR, ODD]))
def test_the_payroll_base_is_the_sum_of_the_period_s_lines(people, calc):
    from paybonus.params import Parameters
    from paybonus.payroll import Population
    from paybonus.plugins.interessement.shared import ap_subject_computed, payroll_base

    params = Parameters.default()
    pop = Population("C", calc, tuple(people))
    lines = [p for e in people for p in e.pay_in(calc)]
    ap = sum(p.ap_subject_cents for p in lines if p.ap_subject_cents is not None)
    computed = sum(
        ap_subject_computed(params, p.month, p.ap_hours, p.ap_indemnity_cents)
        for p in lines
        if p.ap_subject_cents is None and p.ap_indemnity_cents and p.ap_hours
    )
    gross, cp = sum(p.gross_cents for p in lines), sum(p.cp_caisse_cents for p in lines)
    total, detail = payroll_base(pop, params)
    assert total == gross + cp + ap + computed
    assert detail["gross_cents"] == gross and detail["ap_subject_cents"] == ap + computed
    assert detail.get("ap_subject_computed_cents", 0) == computed


def _levies(rates):
    """A `Levies` of these five rates (CSG, its deductible part, CRDS, forfait social, its PER rate), made by its
    own `__init__` from the parameters' functions it calls, replaced."""
    from types import SimpleNamespace

    import pytest
    from paybonus.plugins.interessement import shared

    csg = SimpleNamespace(csg_rate=rates[0], csg_deductible_rate=rates[1], crds_rate=rates[2])
    social = {"rate": str(rates[3]), "rate_if_placed_in_per": str(rates[4])}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(shared, "csg_crds", lambda *a: csg)
        mp.setattr(shared, "forfait_social", lambda *a: social)
        return shared.Levies(None, YEAR, None)


rate = st.integers(0, 14).flatmap(
    lambda places: st.decimals(min_value=Decimal("-2"), max_value=Decimal("2"), places=places)
)


@settings(max_examples=400)
@given(
    st.one_of(st.integers(-(10**15) + 1, 10**15 - 1), st.integers(-(10**30), 10**30), st.integers(-999, 999)),
    st.lists(
        st.one_of(
            rate,
            rate.map(abs),
            st.sampled_from(
                [Decimal("0.092"), Decimal("0.068"), Decimal(0), Decimal("0.5"), Decimal("0.125")]
            ),
        ),
        min_size=5,
        max_size=5,
    ),
)
@example(50, [Decimal("0.01")] * 5)  # exactly half a cent each: rounded up
@example(-50, [Decimal("0.01")] * 5)
@example(-3, [Decimal("0.5"), Decimal("0.5"), Decimal("0.125"), Decimal("0.2"), Decimal("0.16")])
def test_levies_of_is_what_decimal_arithmetic_gives(cents, rates):
    """`Levies.of` by `_halves_of` (every rate at 0 or more), by `money.share_half_up`, or in Decimals: the same cents
    (issue 17's drafts pass: `_halves_of` replaced five calls of `_half_up_of`)."""
    lv = _levies(rates)
    decimal = _levies(rates)
    decimal._exact = decimal._halves = None  # the Decimal path of `of`
    assert lv.of(cents) == decimal.of(cents)
    if lv._exact is not None and all(r >= 0 for r in rates):
        assert lv._halves is not None  # the path this test is about is taken


def test_facts_inputs_are_the_facts_and_the_share_s_keys_in_one_dict():
    """`Facts.inputs` (what `as_drafts` writes) is `{**facts[e], cap_room_cents, capped, rounds, previous_cents}`:
    the same keys in the same order, the same values and types, for facts kept as numbers and as dicts."""
    from paybonus.distribution import Criterion
    from paybonus.plugins.interessement.shared import Facts, Seniority

    facts = Facts(3)
    seniority = Seniority((Period(date(2024, 1, 1), date(2025, 12, 31)),))
    weights = {Criterion.UNIFORM: 10_000, Criterion.PRESENCE: 1820, Criterion.SALARY: 3_000_000}
    ratio = Decimal("0.5000")
    facts.add(
        "E1", (365, seniority, 360, ratio, 3_100_000, 3_000_000, weights, 900_000, {"cap_rule": "days"}, 0)
    )
    facts.add("E2", (365, seniority, 360, Decimal("1.0"), 1, 1, weights, 9, {"prorated_cap_cents": 5}, 7))
    facts.update({"H1": {"head": True, "salary_cents": 12}})
    rounds = [[["salary", 1, 2, 3, 0]]]
    for e in ("E1", "E2", "H1", "E1"):
        got = facts.inputs(e, 123, True, rounds, 45)
        want = {**facts[e], "cap_room_cents": 123, "capped": True, "rounds": rounds, "previous_cents": 45}
        assert list(got.items()) == list(want.items())
        assert [type(v) for v in got.values()] == [type(v) for v in want.values()]
    assert facts["E1"]["working_time_ratio"] == "0.5000" and facts["E2"]["working_time_ratio"] == "1.0"
