"""Integer-cent money: exact allocation and caps (LAW 8, I-35, I-36)."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from paybonus.distribution import Criterion, Person, distribute
from paybonus.money import allocate, format_euros, parse_euros, scale_weights, to_cents


def allocate_capped(total, weights, caps, *, redistribute):
    """One sub-pool of `distribute`: shares, undistributed cents, rounds."""
    people = [
        Person(f"P{i:04d}", {Criterion.UNIFORM: w}, c)
        for i, (w, c) in enumerate(zip(weights, caps, strict=True))
    ]
    r = distribute(total, [(Criterion.UNIFORM, 1)], people, redistribute=redistribute)
    return [s.amount for s in r.shares], r.undistributed, r.rounds


weights = st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=60)
totals = st.integers(min_value=0, max_value=10**12)


@given(totals, weights)
def test_allocation_conserves_every_cent(total, ws):
    shares = allocate(total, ws)
    assert sum(shares) == (total if sum(ws) else 0)


@given(totals, weights)
def test_each_share_is_its_exact_quota_rounded_down_or_up_by_one_cent(total, ws):
    W = sum(ws)
    for share, w in zip(allocate(total, ws), ws, strict=True):
        exact_floor = total * w // W if W else 0
        assert share in (exact_floor, exact_floor + 1)
        if w == 0:
            assert share == 0


@given(totals, weights)
def test_more_weight_never_gives_less(total, ws):
    shares = allocate(total, ws)
    for i in range(len(ws)):
        for j in range(len(ws)):
            if ws[i] > ws[j]:
                assert shares[i] >= shares[j]


@given(
    totals,
    st.lists(
        st.tuples(st.integers(0, 10**6), st.one_of(st.none(), st.integers(0, 10**8))), min_size=1, max_size=40
    ),
    st.booleans(),
)
def test_caps_are_never_exceeded_and_cents_are_conserved(total, people, redistribute):
    ws = [w for w, _ in people]
    caps = [c for _, c in people]
    shares, undistributed, _ = allocate_capped(total, ws, caps, redistribute=redistribute)
    assert sum(shares) + undistributed == total
    assert undistributed >= 0
    for s, c in zip(shares, caps, strict=True):
        assert s >= 0
        if c is not None:
            assert s <= c


@given(totals, st.lists(st.tuples(st.integers(1, 10**6), st.integers(0, 10**8)), min_size=1, max_size=40))
def test_redistribution_leaves_nothing_while_someone_is_below_cap(total, people):
    ws = [w for w, _ in people]
    caps = [c for _, c in people]
    shares, undistributed, _ = allocate_capped(total, ws, caps, redistribute=True)
    if undistributed:  # I-35: only when everybody is at their cap
        assert all(s == c for s, c in zip(shares, caps, strict=True))


def test_reliquat_golden_case():
    # 3 people, equal weights, pool 30 000.00; one capped at 5 000.00 (I-30): 5 000 blocked.
    shares, undistributed, _ = allocate_capped(
        3_000_000, [1, 1, 1], [500_000, None, None], redistribute=False
    )
    assert shares == [500_000, 1_000_000, 1_000_000] and undistributed == 500_000  # I-36: not distributed
    shares, undistributed, rounds = allocate_capped(
        3_000_000, [1, 1, 1], [500_000, None, None], redistribute=True
    )
    assert shares == [500_000, 1_250_000, 1_250_000] and undistributed == 0 and rounds == 2  # I-35


def test_largest_remainder_golden_case():
    assert allocate(100, [1, 1, 1]) == [34, 33, 33]
    assert allocate(1, [1, 2]) == [0, 1]
    assert allocate(0, [1, 2]) == [0, 0]
    assert allocate(10, [0, 0]) == [0, 0]
    with pytest.raises(ValueError):
        allocate(-1, [1])


@pytest.mark.parametrize(
    ("text", "cents"),
    [("0", 0), ("12", 1200), ("12.5", 1250), ("12.05", 1205), ("-3.10", -310), ("1000000.99", 100000099)],
)
def test_parse_euros(text, cents):
    assert parse_euros(text) == cents
    assert parse_euros(format_euros(cents)) == cents


@pytest.mark.parametrize("text", ["1,50", "1.505", "abc", "", "1e3", "١٢", "12.", " . "])
def test_parse_euros_refuses(text):
    with pytest.raises(ValueError):
        parse_euros(text)


def test_to_cents_rounds_half_up_and_scale_weights_is_exact():
    assert to_cents(Decimal("0.005")) == 1
    assert to_cents(Decimal("0.0049")) == 0
    assert to_cents(Decimal("-0.005")) == -1
    assert scale_weights([Decimal("0.5"), Decimal("1.25"), 2]) == [50, 125, 200]
    assert format_euros(123456789, french=True) == "1\u202f234\u202f567,89 €"


# Golden cases that pin the exact rule where the invariants above leave room (mutation testing, docs/testing.md).


def test_zero_euros_has_no_sign_and_a_cent_keeps_its_own():  # LAW 8: amounts to the cent
    assert format_euros(0) == "0.00"
    assert format_euros(0, french=True) == "0,00 €"
    assert format_euros(-1) == "-0.01"
    assert format_euros(1) == "0.01"
    assert format_euros(-123456789, french=True) == "-1\u202f234\u202f567,89 €"


def test_to_cents_rounds_half_up_to_the_cent_and_other_modes_on_request():  # LAW 8
    from decimal import ROUND_DOWN

    assert to_cents(Decimal("12.345")) == 1235
    assert to_cents(Decimal("12.344")) == 1234
    assert to_cents(Decimal("-0.005")) == -1
    assert to_cents(Decimal("123.45")) == 12345
    assert to_cents(Decimal("12.349"), ROUND_DOWN) == 1234
    with pytest.raises(ValueError, match="cannot turn"):
        to_cents(Decimal("Infinity"))
    with pytest.raises(ValueError):
        to_cents(Decimal("NaN"))


def test_to_decimal_is_exact_euros():
    from paybonus.money import to_decimal

    assert to_decimal(12345) == Decimal("123.45")
    assert to_decimal(-1) == Decimal("-0.01")


def test_scale_weights_uses_the_smallest_power_of_ten_that_makes_every_weight_whole():
    assert scale_weights([Decimal("0.25"), Decimal("0.5"), 3]) == [25, 50, 300]
    assert scale_weights([Decimal("0.5"), Decimal("0.25")]) == [50, 25]  # the finest decimal sets the factor
    assert scale_weights([Decimal("7"), 2]) == [7, 2]
    assert scale_weights([Decimal("1E+1"), 1]) == [10, 1]  # a positive exponent needs no factor


def test_allocate_refuses_a_negative_weight_and_a_negative_total():  # LAW 8: exact allocation of cents
    with pytest.raises(ValueError, match="weights must not be negative"):
        allocate(100, [1, -1, 2])
    with pytest.raises(ValueError, match="negative total"):
        allocate(-1, [1])
    assert allocate(0, [1, 2]) == [0, 0]
    assert allocate(5, [0, 0]) == [0, 0]


def test_allocate_gives_the_extra_cents_to_the_largest_remainders_then_the_lowest_index():  # LAW 8
    assert allocate(10, [1, 1, 1]) == [4, 3, 3]
    assert allocate(100, [1, 2, 4]) == [14, 29, 57]  # remainders 2/7, 4/7, 1/7: one cent to the second
    assert allocate(2, [1, 1, 1, 1]) == [1, 1, 0, 0]


def test_parse_euros_reads_one_or_two_decimals_and_a_sign():
    assert parse_euros(" 12.5 ") == 1250
    assert parse_euros("12.05") == 1205
    assert parse_euros("-3") == -300
    assert parse_euros("0") == 0
    with pytest.raises(ValueError, match="is not an amount in euros"):
        parse_euros("12.345")
