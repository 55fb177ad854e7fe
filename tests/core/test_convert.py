"""The strict converter of events and configuration: what each type accepts, and the one line it refuses with."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from attrs import frozen
from paybonus.calendar import Period
from paybonus.convert import structure


@frozen
class Fields:
    day: date | None = None
    at: datetime | None = None
    count: int | None = None
    period: Period | None = None
    rate: Decimal | None = None


NOON = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

ACCEPTED = [
    ({"day": datetime(2025, 3, 1, 12, 0)}, "day", date(2025, 3, 1)),  # a TOML date-time where a date is due
    ({"at": NOON}, "at", NOON),  # a TOML date-time with its offset
    ({"at": "2025-03-01T12:00:00Z"}, "at", NOON),
    ({"period": {"start": "2025-01-01", "end": "2025-12-31"}}, "period", Period.parse("2025")),
    ({"rate": " 0.097 "}, "rate", Decimal("0.097")),
    ({"rate": "-1.5E-2"}, "rate", Decimal("-0.015")),
]

REFUSED = [
    ({"at": 20250301}, "at: expected a timestamp string, got 20250301"),
    ({"at": "2025-03-01T12:00:00"}, "needs a time zone"),
    ({"count": Decimal("12.5")}, "count: expected an integer, got 12.5"),
    # JSON's 12.0 or 1.2e1 (read as a Decimal) is refused though whole: an integer is written as one (cents12)
    (
        {"count": Decimal("12")},
        "count: expected an integer, got 12 (a number with a decimal point or an exponent)",
    ),
    ({"count": Decimal("12.0")}, "count: expected an integer, got 12.0 (a number with a decimal point"),
    ({"count": 12.0}, "count: expected an integer, got 12.0 (a number with a decimal point"),
    ({"count": True}, "count: expected an integer, got True"),
    (
        {"period": ["2025-01-01", "2025-12-31"]},
        "period: expected a period {start, end} or 'YYYY-MM-DD..YYYY-MM-DD'",
    ),
    (
        {"period": {"start": "2025-01-01", "end": "2025-12-31", "label": "x"}},
        "unknown key(s) label in period",
    ),
    ({"day": "1899-12-31"}, "day: 1899-12-31 is outside the years 1900 to 2199"),
    # Python's Decimal() reads these as numbers: a thousands separator, a sign, digits of other scripts, NaN
    ({"rate": "1_000"}, "rate: expected a decimal number in ASCII digits (like '12.5'), got '1_000'"),
    ({"rate": "+0.5"}, "rate: expected a decimal number in ASCII digits"),
    ({"rate": "\u0661\u0662"}, "rate: expected a decimal number in ASCII digits"),  # Arabic-Indic 12
    ({"rate": "\uff11\uff12"}, "rate: expected a decimal number in ASCII digits"),  # full-width 12
    ({"rate": "NaN"}, "rate: expected a decimal number in ASCII digits"),
    ({"rate": "1,5"}, "rate: expected a decimal number in ASCII digits"),
]


@pytest.mark.parametrize(("data", "field", "value"), ACCEPTED)
def test_what_each_type_accepts(data, field, value):
    assert getattr(structure(data, Fields), field) == value


@pytest.mark.parametrize(("data", "words"), REFUSED)
def test_what_each_type_refuses_in_one_line(data, words):
    with pytest.raises(ValueError) as info:
        structure(data, Fields)
    assert words in str(info.value) and "\n" not in str(info.value), str(info.value)
