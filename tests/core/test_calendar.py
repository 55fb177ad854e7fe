from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from paybonus.calendar import Period, add_months, end_of_nth_month_after, fiscal_year


def test_periods():
    p = Period.parse("2025")
    assert p.days == 365 and p.whole_months() == 12 and len(list(p.months())) == 12
    assert Period.parse("2024-02") == Period(date(2024, 2, 1), date(2024, 2, 29))
    assert Period.parse("2025-01-15..2025-03-31").whole_months() is None
    assert Period.parse("2025-01-01..2025-03-31").whole_months() == 3
    with pytest.raises(ValueError):
        Period(date(2025, 2, 1), date(2025, 1, 1))
    with pytest.raises(ValueError):
        Period.parse("25-1")


def test_non_calendar_fiscal_year():
    assert fiscal_year(date(2025, 3, 1), 7, 1) == Period(date(2024, 7, 1), date(2025, 6, 30))
    assert fiscal_year(date(2025, 7, 1), 7, 1) == Period(date(2025, 7, 1), date(2026, 6, 30))


def test_deadline_helper():
    assert end_of_nth_month_after(date(2025, 12, 31), 5) == date(2026, 5, 31)  # I-39: 31 Dec -> 31 May
    assert end_of_nth_month_after(date(2025, 6, 30), 2) == date(2025, 8, 31)
    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)


@given(st.dates(date(2000, 1, 1), date(2090, 1, 1)), st.integers(-240, 240))
def test_add_months_round_trip_on_first_days(d, n):
    first = d.replace(day=1)
    assert add_months(add_months(first, n), -n) == first


def test_seniority_in_calendar_months():
    # LAW I-13: a contract from 1 February to 30 April completes 3 months; from mid-month, a month ends the day
    # before the same date of the next month; leftover days of all contracts add up on a 30-day basis (D-3)
    from paybonus.calendar import seniority_months

    def sm(*spans):
        return seniority_months([Period(date.fromisoformat(a), date.fromisoformat(b)) for a, b in spans])

    assert sm(("2025-02-01", "2025-04-30")) == (3, 0)  # 89 days, 3 calendar months (LAW I-13)
    assert sm(("2024-02-01", "2024-04-30")) == (3, 0)  # 90 days in a leap year
    assert sm(("2025-01-15", "2025-04-14")) == (3, 0)
    assert sm(("2025-01-31", "2025-02-27")) == (1, 0)  # from the 31st: the clipped date, less a day (D-3)
    assert sm(("2025-01-16", "2025-04-14")) == (3, 0)  # 2 months to 15 March, then 30 days: one more (D-3)
    assert sm(("2025-11-03", "2025-12-31"), ("2024-10-10", "2024-10-31")) == (
        2,
        21,
    )  # 1 + 0 months, 29 + 22 days
    assert sm(("2025-03-01", "2025-03-01")) == (0, 1)
    assert sm() == (0, 0)


@given(
    st.dates(date(2020, 1, 1), date(2030, 12, 31)),
    st.integers(0, 800),
    st.integers(1, 40),
)
def test_seniority_months_never_fall_when_a_contract_lasts_longer(start, days, more):
    from datetime import timedelta

    from paybonus.calendar import seniority_months

    short = seniority_months([Period(start, start + timedelta(days=days))])
    long = seniority_months([Period(start, start + timedelta(days=days + more))])
    assert long >= short
    assert short[0] * 28 <= days + 1 <= (short[0] + 1) * 31 + 30


# Golden cases for each boundary of the calendar (mutation testing, docs/testing.md).


def test_half_years_are_january_to_june_and_july_to_december():  # LAW 0.5: TMOP by half-year
    from paybonus.calendar import next_semester, previous_semester, semester_of, semester_period

    assert semester_period("2025-S1") == Period(date(2025, 1, 1), date(2025, 6, 30))
    assert semester_period("2025-S2") == Period(date(2025, 7, 1), date(2025, 12, 31))
    assert [semester_of(date(2025, 6, 30)), semester_of(date(2025, 7, 1))] == ["2025-S1", "2025-S2"]
    assert next_semester("2025-S2") == "2026-S1" and previous_semester("2025-S1") == "2024-S2"
    for label in ("2025-S3", "2025-S1\n", "\uff12025-S1"):  # "$" let a label ending in a newline through
        with pytest.raises(ValueError, match="is not a half-year"):
            semester_period(label)


def test_a_period_contains_both_its_ends():
    p = Period(date(2025, 3, 1), date(2025, 3, 31))
    assert p.contains(date(2025, 3, 1)) and p.contains(date(2025, 3, 31))
    assert not p.contains(date(2025, 2, 28)) and not p.contains(date(2025, 4, 1))
    assert p.days == 31
    assert p.overlap_days(Period(date(2025, 3, 31), date(2025, 4, 30))) == 1
    assert p.overlap(Period(date(2025, 4, 1), date(2025, 4, 30))) is None
    assert p.overlap_days(Period(date(2025, 4, 1), date(2025, 4, 30))) == 0
    with pytest.raises(ValueError, match=r"ends .* before it starts"):
        Period(date(2025, 3, 2), date(2025, 3, 1))


def test_whole_months_across_years():  # I-2: a period is a whole number of months
    assert Period(date(2024, 7, 1), date(2025, 6, 30)).whole_months() == 12
    assert Period(date(2024, 1, 1), date(2025, 12, 31)).whole_months() == 24
    assert Period(date(2025, 1, 1), date(2025, 3, 31)).whole_months() == 3
    assert Period(date(2025, 1, 2), date(2025, 3, 31)).whole_months() is None
    assert Period(date(2025, 1, 1), date(2025, 3, 30)).whole_months() is None


def test_periods_parse_from_their_three_forms():
    assert Period.parse("2025") == Period(date(2025, 1, 1), date(2025, 12, 31))
    assert Period.parse("2025-02") == Period(date(2025, 2, 1), date(2025, 2, 28))
    assert Period.parse("2025-01-15..2025-02-14").days == 31
    assert Period.parse("2025-01-15..2025-02-14").key == "2025-01-15..2025-02-14"
    with pytest.raises(ValueError, match="is not a period"):
        Period.parse("25")
    months = list(Period(date(2025, 1, 15), date(2025, 3, 10)).months())
    assert months == [
        Period(date(2025, 1, 15), date(2025, 1, 31)),
        Period(date(2025, 2, 1), date(2025, 2, 28)),
        Period(date(2025, 3, 1), date(2025, 3, 10)),
    ]


def test_deadlines_fall_on_the_last_day_of_the_nth_month_after():  # I-39
    from paybonus.calendar import add_months, end_of_nth_month_after, fiscal_year

    assert end_of_nth_month_after(date(2025, 12, 31), 5) == date(2026, 5, 31)
    assert end_of_nth_month_after(date(2025, 6, 30), 2) == date(2025, 8, 31)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2025, 1, 31), 13) == date(2026, 2, 28)
    assert add_months(date(2025, 3, 15), -3) == date(2024, 12, 15)
    assert fiscal_year(date(2025, 6, 30), 7) == Period(date(2024, 7, 1), date(2025, 6, 30))
    assert fiscal_year(date(2025, 7, 1), 7) == Period(date(2025, 7, 1), date(2026, 6, 30))


@pytest.mark.parametrize(
    ("spans", "expected"),
    [
        ([("2025-02-01", "2025-04-30")], (3, 0)),  # I-13: 1 February to 30 April is 3 months
        ([("2025-02-01", "2025-04-29")], (2, 29)),
        ([("2025-01-31", "2025-02-27")], (1, 0)),  # from the 31st: the day before the clipped date
        ([("2025-01-15", "2025-02-14")], (1, 0)),  # mid-month: the day before the same date
        ([("2025-01-15", "2025-02-13")], (1, 0)),  # 30 days left over make a month
        ([("2025-01-15", "2025-02-12")], (0, 29)),
        ([("2025-01-01", "2025-01-20"), ("2025-03-01", "2025-03-10")], (1, 0)),  # days add up, 30 a month
        ([("2025-01-01", "2025-01-20"), ("2025-03-01", "2025-03-09")], (0, 29)),
        ([("2024-01-01", "2025-12-31")], (24, 0)),
        ([], (0, 0)),
    ],
)
def test_seniority_in_calendar_months_case_by_case(spans, expected):  # I-13, docs/rules.md D-3
    from paybonus.calendar import seniority_months

    periods = [Period(date.fromisoformat(a), date.fromisoformat(b)) for a, b in spans]
    assert seniority_months(periods) == expected


def test_a_period_ending_on_the_first_of_a_month_touches_that_month():
    months = list(Period(date(2025, 1, 15), date(2025, 3, 1)).months())
    assert months[-1] == Period(date(2025, 3, 1), date(2025, 3, 1)) and len(months) == 3


def test_the_default_fiscal_year_is_the_calendar_year():
    assert fiscal_year(date(2025, 1, 15)) == Period(date(2025, 1, 1), date(2025, 12, 31))
