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
