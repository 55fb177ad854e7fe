"""Periods, fiscal years and payment deadlines. All dates are `datetime.date`; periods include both ends."""

from __future__ import annotations

import calendar as _cal
import re
from collections.abc import Iterator, Sequence
from datetime import date, timedelta

from attrs import frozen

# ASCII digits only: str.isdigit() and int() also take '２０２５' (full-width) or '٢٠٢٥'
_DAY = "[0-9]{4}-[0-9]{2}-[0-9]{2}"
_PERIOD = re.compile(f"{_DAY}\\.\\.{_DAY}", re.ASCII)
_MONTH = re.compile("[0-9]{4}-[0-9]{2}", re.ASCII)
_YEAR = re.compile("[0-9]{4}", re.ASCII)


def last_day_of_month(d: date) -> date:
    return d.replace(day=_cal.monthrange(d.year, d.month)[1])


def add_months(d: date, months: int) -> date:
    """Same day `months` later, clipped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    m = d.month - 1 + months
    y, m = d.year + m // 12, m % 12 + 1
    return date(y, m, min(d.day, _cal.monthrange(y, m)[1]))


def month_start(d: date) -> date:
    return d.replace(day=1)


@frozen(order=True)
class Period:
    """A span of days, both ends included (a pay month, a calculation period, a fiscal year)."""

    start: date
    end: date

    def __attrs_post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        first = date(year, month, 1)
        return cls(first, last_day_of_month(first))

    @classmethod
    def parse(cls, text: str) -> Period:
        """'2025-01-01..2025-12-31', or '2025-03' for a month, or '2025' for a calendar year (ASCII digits)."""
        if _PERIOD.fullmatch(text):
            a, b = text.split("..", 1)
            return cls(date.fromisoformat(a), date.fromisoformat(b))
        if _MONTH.fullmatch(text):
            y, m = text.split("-")
            return cls.month(int(y), int(m))
        if _YEAR.fullmatch(text):
            return cls(date(int(text), 1, 1), date(int(text), 12, 31))
        raise ValueError(f"'{text}' is not a period (expected YYYY-MM-DD..YYYY-MM-DD, YYYY-MM or YYYY)")

    @property
    def key(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    def __str__(self) -> str:
        return self.key

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def contains(self, d: date) -> bool:
        return self.start <= d <= self.end

    def overlap(self, other: Period) -> Period | None:
        s, e = max(self.start, other.start), min(self.end, other.end)
        return Period(s, e) if s <= e else None

    def overlap_days(self, other: Period) -> int:
        o = self.overlap(other)
        return o.days if o else 0

    def whole_months(self) -> int | None:
        """Number of whole calendar-aligned months the period spans, or None if it is not whole months."""
        if self.start.day != 1 or self.end != last_day_of_month(self.end):
            return None
        return (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1

    def months(self) -> Iterator[Period]:
        """The calendar months the period touches, each clipped to the period."""
        d = month_start(self.start)
        while d <= self.end:
            m = Period(max(d, self.start), min(last_day_of_month(d), self.end))
            yield m
            d = add_months(d, 1)


def fiscal_year(containing: date, start_month: int = 1, start_day: int = 1) -> Period:
    """The fiscal year (12 months from start_month/start_day) that contains `containing`."""
    start = date(containing.year, start_month, start_day)
    if start > containing:
        start = date(containing.year - 1, start_month, start_day)
    return Period(start, add_months(start, 12) - timedelta(days=1))


def end_of_nth_month_after(d: date, n: int) -> date:
    """Last day of the n-th month after the month of `d` (31 Dec, 5 -> 31 May)."""
    return last_day_of_month(add_months(month_start(d), n))


_SEMESTER = re.compile(r"([0-9]{4})-S([12])")  # whole: "$" would let "2025-S1\n" through


def semester_of(d: date) -> str:
    """The half-year containing `d`, as a label: '2025-S1' (January-June) or '2025-S2' (July-December)."""
    return f"{d.year}-S{1 if d.month <= 6 else 2}"


def semester_period(label: str) -> Period:
    """The days of a half-year label ('2025-S2' -> 2025-07-01..2025-12-31). Raises ValueError if malformed."""
    m = _SEMESTER.fullmatch(label)
    if not m:
        raise ValueError(f"{label!r} is not a half-year (expected YYYY-S1 or YYYY-S2)")
    year, half = int(m.group(1)), int(m.group(2))
    return (
        Period(date(year, 1, 1), date(year, 6, 30))
        if half == 1
        else Period(date(year, 7, 1), date(year, 12, 31))
    )


def next_semester(label: str) -> str:
    return semester_of(semester_period(label).end + timedelta(days=1))


def previous_semester(label: str) -> str:
    return semester_of(semester_period(label).start - timedelta(days=1))


def seniority_months(spans: Sequence[Period]) -> tuple[int, int]:
    """Seniority of a set of contract spans in calendar months (LAW I-13, docs/rules.md D-3): (months, days).

    A span completes a month on the day before the same date of the next month (1 February to 30 April is 3
    months; from the 29th-31st, a month ends the day before the clipped date: 31 January to 27 February is one
    month). The days left after a span's whole months, from every span, add up on a 30-day basis."""
    months = leftover = 0
    for s in spans:
        k = (s.end.year - s.start.year) * 12 + s.end.month - s.start.month + 1  # an upper bound
        while k > 0 and add_months(s.start, k) - timedelta(days=1) > s.end:
            k -= 1
        months += k
        leftover += (s.end - add_months(s.start, k)).days + 1
    return months + leftover // 30, leftover % 30
