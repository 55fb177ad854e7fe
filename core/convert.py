"""The shared cattrs converter: strict structuring for events and configuration, with one-line error messages."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import cattrs
from cattrs.errors import ForbiddenExtraKeysError
from cattrs.v import format_exception, transform_error

from .calendar import Period
from .money import format_euros
from .parsing import MAX_TEXT_CHARS

T = TypeVar("T")
# every number read from a file or an event: 15 digits of units (cents, euros, hours, points) and 18 decimals at
# most, so that no figure overflows a formula or a cent count at compute time (docs/data-format.md, limits)
MAX_NUMBER = 10**15
MIN_EXPONENT = -18
FIRST_YEAR, LAST_YEAR = 1900, 2199  # dates in events and configurations
# a decimal number written as a string: ASCII digits, an optional minus, a dot, an exponent. Python's Decimal()
# also takes '+5', '1_000', '١٢' (Arabic digits), '１２' (full-width) and 'NaN': a typo or a pasted figure read
# as another number, refused here instead (JSON numbers and DSN values follow this grammar too)
DECIMAL_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?", re.ASCII)


def _structure_date(v: Any, _: type) -> date:
    if isinstance(v, datetime):
        return _in_range(v.date())
    if isinstance(v, date):
        return _in_range(v)
    if isinstance(v, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", v):
        try:
            d = date.fromisoformat(v)
        except ValueError:  # 2025-13-01
            pass
        else:
            return _in_range(d)  # its own message: "1899-12-31 is outside the years 1900 to 2199"
    raise ValueError(f"expected a date YYYY-MM-DD, got {show(v)[:40]}")


def _in_range(d: date) -> date:
    """A date of an event or a configuration: from 1900 to 2199 (0001-01-01 or 9999-12-31 is a mistake)."""
    if not FIRST_YEAR <= d.year <= LAST_YEAR:
        raise ValueError(f"{d.isoformat()} is outside the years {FIRST_YEAR} to {LAST_YEAR}")
    return d


def _structure_datetime(v: Any, _: type) -> datetime:
    if isinstance(v, datetime):
        dt = v
    elif isinstance(v, str):
        try:
            dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"expected a timestamp like 2025-01-31T18:00:00+01:00, got {v!r}") from None
    else:
        raise ValueError(f"expected a timestamp string, got {v!r}")
    if dt.tzinfo is None:
        raise ValueError(f"timestamp {v!r} needs a time zone (e.g. +01:00 or Z)")
    _in_range(dt.date())
    return dt


def _structure_decimal(v: Any, _: type) -> Decimal:
    # floats never reach here from JSON (parsed with parse_float=Decimal); refuse them from Python callers too
    if isinstance(v, (bool, float)):
        raise ValueError(f"expected an exact number (int or decimal string), got {v!r}")
    if isinstance(v, Decimal | int):
        d = Decimal(v)
    elif isinstance(v, str):
        if not DECIMAL_TEXT.fullmatch(v.strip()):
            raise ValueError(f"expected a decimal number in ASCII digits (like '12.5'), got {show(v)[:40]}")
        d = Decimal(v.strip())
    else:
        raise ValueError(f"expected a decimal number, got {v!r}")
    if not d.is_finite():
        raise ValueError(f"expected a finite number, got {show(v)[:40]}")
    if abs(d) >= MAX_NUMBER or (d and d.adjusted() < MIN_EXPONENT):
        raise ValueError(f"{show(v)[:40]} is out of range (at most 15 digits before the point and 18 after)")
    return d


def show(v: Any) -> str:
    """A value as the user wrote it (Decimals without their repr)."""
    return str(v) if isinstance(v, Decimal) else repr(v)


# why a number is not an integer though it may be whole: JSON's 100.00, 1e2 and 100.0 are read as Decimals
NOT_WHOLE = " (a number with a decimal point or an exponent)"


def _structure_int(v: Any, _: type) -> int:
    # An integer is written as one: a JSON number with a decimal point or an exponent is refused even when whole
    # (100.00, 1e2), as are true and false. Most integers read are cents, and whoever writes 100.00 for an amount
    # in cents almost surely meant euros (10 000 cents): reading it as 100 cents paid a hundredth of it.
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(
            f"expected an integer, got {show(v)}{NOT_WHOLE if isinstance(v, Decimal | float) else ''}"
        )
    if abs(v) >= MAX_NUMBER:
        raise ValueError(f"{str(v)[:40]} is out of range (at most 15 digits)")
    return v


def _structure_str(v: Any, _: type) -> str:
    if not isinstance(v, str):
        raise ValueError(f"expected a string, got {show(v)[:40]}")
    if len(v) > MAX_TEXT_CHARS:
        raise ValueError(f"a text of {len(v)} characters (at most {MAX_TEXT_CHARS})")
    if not v.isascii():  # a lone surrogate ("\ud800" from Python) can be neither hashed nor stored
        try:
            v.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(
                f"\\u{ord(v[exc.start]):04x} is half of a surrogate pair, not a character"
            ) from None
    return v


def _structure_bool(v: Any, _: type) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"expected true or false, got {v!r}")
    return v


def _structure_period(v: Any, _: type) -> Period:
    if isinstance(v, str):
        p = Period.parse(v)
        _in_range(p.start)
        _in_range(p.end)
        return p
    if isinstance(v, dict):
        extra = set(v) - {"start", "end"}
        if extra:
            raise ValueError(f"unknown key(s) {', '.join(sorted(extra))} in period")
        return Period(_structure_date(v.get("start"), date), _structure_date(v.get("end"), date))
    raise ValueError(f"expected a period {{start, end}} or 'YYYY-MM-DD..YYYY-MM-DD', got {v!r}")


def make_converter() -> cattrs.Converter:
    c = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    c.register_structure_hook(date, _structure_date)
    c.register_structure_hook(datetime, _structure_datetime)
    c.register_structure_hook(Decimal, _structure_decimal)
    c.register_structure_hook(int, _structure_int)
    c.register_structure_hook(str, _structure_str)
    c.register_structure_hook(bool, _structure_bool)
    c.register_structure_hook(Period, _structure_period)
    # a value that is not of its field's type (a payload built in Python with a date as text) is left as it is,
    # for structuring to read or refuse by name, not an AttributeError
    c.register_unstructure_hook(date, lambda d: d.isoformat() if isinstance(d, date) else d)
    c.register_unstructure_hook(datetime, lambda d: d.isoformat() if isinstance(d, datetime) else d)
    c.register_unstructure_hook(Decimal, str)
    c.register_unstructure_hook(
        Period,
        lambda p: {"start": p.start.isoformat(), "end": p.end.isoformat()} if isinstance(p, Period) else p,
    )
    return c


converter = make_converter()


def _describe(exc: BaseException, type_: type | None) -> str:
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, ForbiddenExtraKeysError):
        return f"unknown field(s) {', '.join(sorted(exc.extra_fields))}"
    msg = str(exc)
    if " not in literal " in msg:
        allowed = msg.split(" not in literal ")[1].rstrip(")").removeprefix("typing.Literal")
        return f"expected one of {allowed}, got {msg.split(' not in literal ')[0].split('(')[-1]!r}"
    if isinstance(exc, ValueError | TypeError) and msg:
        return msg
    return format_exception(exc, type_)


def first_error(exc: BaseException) -> str:
    """One readable line from a cattrs validation error: 'payload.amount_cents: expected an integer, got 1.5'."""
    try:
        messages = transform_error(exc, path="", format_exception=_describe)
    except Exception:  # pragma: no cover - defensive: never let error formatting raise
        messages = [str(exc)]
    if not messages:
        return str(exc)
    desc, _, path = messages[0].rpartition(" @ ")
    if not _:
        return messages[0]
    path = path.lstrip(".")
    return f"{path}: {in_cents(path, desc)}" if path else desc


def not_an_integer(path: str, v: Any) -> str | None:
    """The line refusing `v` where `path` (`entities[0].pool_cents`) holds an integer, or None if `v` is one: as
    the converter words it, for a value checked outside it (a file compared with its recomputation by `==`, where
    Decimal('100.00') == 100 and True == 1)."""
    try:
        _structure_int(v, int)
    except ValueError as exc:
        return f"{path}: {in_cents(path, str(exc))}"
    return None


def in_cents(path: str, desc: str) -> str:
    """`desc` for a field of cents (its name ends in `_cents`): "expected an integer number of cents", and what a
    whole or two-decimal number (100.00) would be if it meant euros ("100.00 € is 10000 cents")."""
    head = "expected an integer, got "
    if not path.rsplit(".", 1)[-1].endswith("_cents") or not desc.startswith(head):
        return desc
    shown = desc[len(head) :]
    desc = f"expected an integer number of cents, got {shown}"
    if not shown.endswith(NOT_WHOLE):
        return desc
    try:
        cents = Decimal(shown.removesuffix(NOT_WHOLE)) * 100
    except InvalidOperation:  # pragma: no cover - the shown value is a Decimal's or a float's text
        return desc
    if cents and cents.is_finite() and cents == cents.to_integral_value() and abs(cents) < MAX_NUMBER:
        desc = f"{desc[:-1]}; {format_euros(int(cents))} € is {int(cents)} cents)"
    return desc


def structure(data: Any, cls: type[T]) -> T:
    """Structure `data` into `cls`; raises ValueError with one precise line."""
    try:
        return converter.structure(data, cls)
    except Exception as exc:
        raise ValueError(first_error(exc)) from exc
