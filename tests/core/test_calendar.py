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
