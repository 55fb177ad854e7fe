"""Events: what the payroll product tells paybonus. attrs frozen classes, a JSON-lines form, a type registry.

An event is an envelope (`id`, the idempotency key; `type`; `company`; `occurred_at`) around a typed payload.
JSON form, one per line:

    {"id": "acme-2025-12-close", "type": "period_closed", "company": "ACME",
     "occurred_at": "2026-01-05T18:00:00+01:00", "payload": {"period": {"start": "2025-12-01", "end": "2025-12-31"}}}

Numbers with a decimal point are read as exact decimals, never floats. Plugins add event types through the
`paybonus_register_event_types` hook.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Generic, Literal, TypeVar
from uuid import UUID

import attrs
from attrs import field, frozen

from .calendar import Period, end_of_nth_month_after
from .convert import converter, structure
from .errors import UserError
from .parsing import lines, load_json

P = TypeVar("P")

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}")
# company and employee ids name files (statements, exports): no path separator, no "..", at most 64 characters
NAME_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def is_name_id(value: object) -> bool:
    """A company's or an employee's id: 1-64 letters, digits or ._- , starting with a letter or digit, no ".."."""
    return isinstance(value, str) and NAME_ID.fullmatch(value) is not None and ".." not in value


def _check_id(_: Any, attribute: Any, value: str) -> None:
    if not _ID.fullmatch(value):
        raise ValueError(
            f"{attribute.name} {value!r:.80} must be 1-128 letters, digits or ._:/@- (no spaces)"
        )


def _check_company(_: Any, attribute: Any, value: str) -> None:
    if not is_name_id(value):
        raise ValueError(
            f"{attribute.name} {value!r:.80} must be 1-64 letters, digits or ._- (no '/', no '..')"
        )


# --- payloads -------------------------------------------------------------------------------------------------


@frozen
class PeriodClosed:
    """A pay period was closed: its payroll is final (the data source now has the period's population). A pay
    period is one calendar month, as the payroll files are (an annual "close" would compute a year twice)."""

    period: Period

    def __attrs_post_init__(self) -> None:
        p = self.period
        if p != Period.month(p.start.year, p.start.month):
            raise ValueError(f'period: {p.key} is not a calendar month (a pay period, e.g. "2025-12")')


@frozen
class ResultsPublished:
    """Company figures for a calculation period (euros, exact decimals): rcai, chiffre_affaires, ..."""

    period: Period
    figures: dict[str, Decimal]

    def __attrs_post_init__(self) -> None:
        for name in self.figures:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise ValueError(f"figure name {name!r} must be lower_snake_case")


@frozen
class EmployeeLeft:
    """An employee's last contract ended. The forwarding address is kept for statements (LAW I-44)."""

    employee: str
    left_on: date
    reason: str | None = None  # DSN S21.G00.62.002 code, e.g. "059" resignation
    forwarding_address: str | None = None


@frozen
class StatementIssued:
    """The individual statement (fiche distincte) reached the employee: the choice window opens (I-37, I-38)."""

    entitlement: str
    issued_on: date
    channel: Literal["email", "post", "hand", "portal"] = "email"


@frozen
class OptionChosen:
    """The employee's answer: paid now, placed in the savings plan, or split (`placed_cents` placed)."""

    entitlement: str
    choice: Literal["paid", "placed", "split"]
    chosen_on: date
    placed_cents: int | None = None

    def __attrs_post_init__(self) -> None:
        if (self.choice == "split") != (self.placed_cents is not None):
            raise ValueError("placed_cents: give it for a split, and only then")
        if self.placed_cents is not None and self.placed_cents <= 0:
            raise ValueError("placed_cents: must be positive")


@frozen
class PaymentRecorded:
    """An amount of an entitlement was paid out or placed in a savings plan: the PEE (`placed`), or the company's
    PER d'entreprise (`placed_per`, forfait social at its own rate, LAW 0.4)."""

    entitlement: str
    amount_cents: int
    paid_on: date
    mode: Literal["paid", "placed", "placed_per"] = "paid"

    def __attrs_post_init__(self) -> None:
        if self.amount_cents <= 0:
            raise ValueError("amount_cents must be positive")


@frozen
class RecomputationRequested:
    """Compute a scheme's period again with the rules of the installed version (after an upgrade, or once a
    missing value such as a TMOP has been added). The scheme records the differences as corrections that cite
    the request: nothing recorded is edited. Schemes that recompute register this type (`RECOMPUTATION`)."""

    scheme: str
    period: Period
    reason: str

    def __attrs_post_init__(self) -> None:
        if not self.reason.strip():
            raise ValueError(
                'reason: say why (e.g. "paybonus 0.2: LAW corrections"); it is kept with every correction'
            )


def _check_recomputation(event: Event[Any], ledger: Any) -> None:
    """The company runs the scheme it asks to recompute."""
    schemes = ledger.configuration(event.company).get("schemes", {})
    if event.payload.scheme not in schemes:
        known = ", ".join(sorted(schemes)) or "none"
        raise ValueError(
            f"payload.scheme: the company does not run {event.payload.scheme!r} (it runs: {known})"
        )


# --- envelope --------------------------------------------------------------------------------------------------


@frozen
class Event(Generic[P]):
    """One event. `payload` is an instance of the payload class registered for `type`."""

    id: str = field(validator=_check_id)
    type: str
    company: str = field(validator=_check_company)
    occurred_at: datetime
    payload: P

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "company": self.company,
            "occurred_at": self.occurred_at.isoformat(),
            "payload": converter.unstructure(self.payload),
        }

    def to_json(self) -> str:
        """Canonical JSON line (sorted keys, no spaces): the same event always gives the same text."""
        return canonical_json(self.to_dict())

    def digest(self) -> str:
        return self.digest_of(self.to_dict())

    @staticmethod
    def digest_of(d: dict[str, Any]) -> str:
        """The digest of an event's `to_dict()` (for a caller that has the dict already)."""
        return hashlib.sha256(canonical_json(d).encode()).hexdigest()

    def subject(self, name: str) -> str | None:
        """The payload's `employee` or `entitlement` (what the event is about), if it has one."""
        value = getattr(self.payload, name, None)
        return value if isinstance(value, str) else None


@frozen
class EventType:
    """A registered event type: its name, payload class and a one-line description."""

    name: str
    payload: type
    description: str
    # optional check against what is already known (e.g. a statement's digest, the project it belongs to);
    # called with (event, paybonus.hooks.LedgerView); raises ValueError with a precise message
    check: Callable[[Event[Any], Any], None] | None = None
    # the ids outside the payroll an event of this type may be about (`payload.employee`), called with (event,
    # LedgerView) only for an id the company's payroll does not know: admission refuses any other such id
    outside_payroll: Callable[[Event[Any], Any], Collection[str]] | None = None
    # the payload's dates that report what already happened (a deduction made, evidence obtained): admission
    # refuses one after the end of the month following the event (`not_ahead`), a typo of the year otherwise
    # recorded for good
    reported: tuple[str, ...] = ()


def not_ahead(event: Event[Any], name: str, today: date) -> None:
    """Refuse (ValueError, one line) the payload's date `name` (a date reporting what happened; None: not given)
    when it is after the end of the month following the event's own date, or the day it is recorded if that is
    earlier (a payroll may close before its pay day): a typo of the year, recorded for good otherwise."""
    day: date | None = getattr(event.payload, name)
    if day is None:
        return
    basis = min(event.occurred_at.date(), today)
    limit = end_of_nth_month_after(basis, 1)
    if day > limit:
        said = f"occurred_at {basis}" if basis == event.occurred_at.date() else f"recorded on {basis}"
        raise ValueError(
            f"payload.{name}: {day} is after {limit}, the end of the month following the event ({said}): an "
            "event reports what already happened"
        )


# registered by each plugin family whose schemes recompute (one type, one payload class, for all of them)
RECOMPUTATION = EventType(
    "recomputation_requested",
    RecomputationRequested,
    "compute a scheme's period again with the installed rules; differences are recorded as corrections",
    check=_check_recomputation,
)

BUILTIN_EVENT_TYPES = (
    EventType("period_closed", PeriodClosed, "a pay period was closed; its payroll is final"),
    EventType("results_published", ResultsPublished, "company figures for a calculation period"),
    EventType("employee_left", EmployeeLeft, "an employee's last contract ended"),
    EventType("payment_recorded", PaymentRecorded, "an entitlement was (partly) paid or placed"),
    EventType("statement_issued", StatementIssued, "the individual statement reached the employee"),
    EventType("option_chosen", OptionChosen, "the employee chose payment, placement or a split"),
)


class ReadPair(tuple[str, "Event[Any]"]):
    """A (where, event) pair read from a JSON line by `EventTypes.read_jsonl`, checked as its line was read:
    `Paybonus.publish` takes it as it is in whatever list it comes (a slice, a concatenation, one event of a
    message); a pair built otherwise, even added to a list `read_jsonl` returned, is checked. The mark is the pair's,
    not the list's: a list is mutable (append, +=, an item replaced), a tuple and a frozen Event are not."""

    __slots__ = ()


class EventTypes:
    """The registry of event types known to a bus."""

    def __init__(self, types: Iterable[EventType] | None = None) -> None:
        types = BUILTIN_EVENT_TYPES if types is None else types
        self._types: dict[str, EventType] = {}
        for t in types:
            self.add(t)

    def add(self, t: EventType) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", t.name):
            raise ValueError(f"event type name {t.name!r} must be lower_snake_case")
        if t.name in self._types and self._types[t.name].payload is not t.payload:
            raise ValueError(f"event type {t.name!r} is registered twice")
        # checked once here, not at the first event (an AttributeError there, a str read letter by letter)
        fields = {f.name for f in attrs.fields(t.payload)} if attrs.has(t.payload) else None
        if isinstance(t.reported, str) or (fields is not None and not set(t.reported) <= fields):
            raise ValueError(
                f"event type {t.name!r}: reported={t.reported!r} must name fields of its payload (a tuple)"
            )
        self._types[t.name] = t

    def __contains__(self, name: str) -> bool:
        return name in self._types

    def get(self, name: str) -> EventType:
        return self._types[name]

    def names(self) -> list[str]:
        return sorted(self._types)

    def from_dict(self, data: Any) -> Event[Any]:
        """Validate and build an event; raises ValueError with one precise line."""
        if not isinstance(data, dict):
            raise ValueError("an event is a JSON object")
        missing = [k for k in ("id", "type", "company", "occurred_at", "payload") if k not in data]
        if missing:
            raise ValueError(f"{missing[0]}: required field missing")
        extra = sorted(set(data) - {"id", "type", "company", "occurred_at", "payload"})
        if extra:
            raise ValueError(f"{extra[0]}: unknown field")
        etype = data["type"]
        if not isinstance(etype, str) or etype not in self._types:
            known = ", ".join(self.names())
            raise ValueError(f"type: unknown event type {etype!r} (known: {known})")
        try:
            payload: Any = structure(data["payload"], self._types[etype].payload)
        except ValueError as exc:
            msg = str(exc)
            head = msg.split(" ", 1)[0]
            where_given = head.endswith(":") and not head.startswith(("unknown", "expected"))
            raise ValueError(f"payload.{msg}" if where_given else f"payload: {msg}") from None
        try:
            occurred = structure(data["occurred_at"], datetime)
        except ValueError as exc:
            raise ValueError(f"occurred_at: {exc}") from None
        for key in ("id", "company"):
            if not isinstance(data[key], str):
                raise ValueError(f"{key}: expected a string")
        try:
            return Event(data["id"], etype, data["company"], occurred, payload)
        except ValueError as exc:
            raise ValueError(str(exc)) from None

    def from_json(self, line: str) -> Event[Any]:
        return self.from_dict(load_json(line))

    def read_jsonl(self, path: str, text: str | Iterable[str]) -> list[tuple[str, Event[Any]]]:
        """Parse JSON lines (a text, or its lines) into (where, event) pairs; blank lines are skipped; the first
        bad line raises UserError naming the file and line. The one reader of events: see `lines_of`."""
        out: list[tuple[str, Event[Any]]] = []
        for n, line in enumerate(lines_of(text if isinstance(text, str) else "\n".join(text)), 1):
            if not line.strip():
                continue
            where = f"{path}:{n}"
            try:
                out.append(ReadPair((where, self.from_json(line))))
            except ValueError as exc:
                raise UserError(where, str(exc)) from None
        return out


def lines_of(text: str) -> list[str]:
    """The lines of a JSON-lines text: a leading byte-order mark is dropped, lines end at LF or CRLF only (a
    U+2028 or U+0085 inside a JSON string is part of the string, never a line break)."""
    return lines(text)


def latest(events: Sequence[Event[Any]]) -> Event[Any] | None:
    """The latest of recorded events (by time of occurrence, then recording order): a restatement wins."""
    return max(enumerate(events), key=lambda ie: (ie[1].occurred_at, ie[0]))[1] if events else None


def canonical_json(data: Any) -> str:
    """Deterministic JSON: sorted keys, compact, Decimals and dates as strings, UTF-8 kept.

    The text is always the one `json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    default=_json_default)` gives (the ledger's digests and ids hash it). orjson writes it in a third to a fifth of
    the time when it agrees; where it cannot, json writes it: a text that may hold a float orjson writes its own
    way (a non-finite float is null in orjson, NaN in json; 1e-05 and 1e-07 are 0.00001 and 1e-7), and whatever
    orjson refuses (an integer beyond 64 bits, a lone surrogate, a key that is not a string, nesting deeper than
    254, a type `_json_default` refuses: json then raises the error it always raised). A plain Enum is its value
    and a UUID its text on both paths (orjson writes them so itself; `_json_default` does the same for json).
    A text holding "null" is orjson's too when its every null was a None (`_nulls_are_nones`): an explanation
    with a None in it (a date not set, an amount not given) no longer goes to json for that."""
    if _orjson_dumps is not None:
        try:
            out = _orjson_dumps(data, _json_default, _ORJSON_OPTIONS)
        except Exception:  # json below gives the text, or raises the error it always raised
            pass
        else:
            if (
                b"0.0000" not in out
                and (b"-" not in out or _NEGATIVE_EXPONENT.search(out) is None)  # one byte: by memchr
                and (b"null" not in out or _nulls_are_nones(out, data))
            ):
                return out.decode()
    return _json_canonical(data)


def _nulls_are_nones(out: bytes, data: Any) -> bool:
    """Whether orjson's text `out` of `data` wrote no NaN or infinity as null (json writes NaN, Infinity): read
    back, it is equal to `data`. A non-finite float would read back as None, which equals no float; anything
    `_json_default` wrote (a Decimal, a date, a set) or a tuple reads back as another type, equal to nothing
    of `data`, and json writes the text, as before. orjson reads back what it writes but for integers of more
    than 64 bits, which it refuses to write."""
    assert _orjson_loads is not None
    try:
        return bool(_orjson_loads(out) == data)
    except Exception:  # pragma: no cover - a value whose comparison raises: json writes the text
        return False


def _json_canonical(data: Any) -> str:
    """`canonical_json` by the json module (the reference text)."""
    if _canonical is None:  # pragma: no cover - a Python without the json module's C accelerator
        return json.dumps(
            data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
        )
    return "".join(_canonical(data, 0))


def _json_default(o: Any) -> Any:
    if isinstance(o, Decimal):
        return str(o)
    if isinstance(o, date | datetime):
        return o.isoformat()
    if isinstance(o, Period):
        return o.key
    if isinstance(o, frozenset | set | tuple):
        return sorted(o) if isinstance(o, frozenset | set) else list(o)
    if isinstance(o, Enum):  # as orjson writes it (a str or int Enum never comes here: json writes its value)
        return o.value
    if isinstance(o, UUID):
        return str(o)
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


# what `json.dumps` above builds at each call, built once: a close encodes an explanation per person, and building
# the encoder was a third of the time (no check for circular references: data that holds itself raises
# RecursionError instead of ValueError)
_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_canonical: Callable[[Any, int], Sequence[str]] | None = (
    _make_encoder(None, _json_default, json.encoder.encode_basestring, None, ":", ",", True, False, True)
    if _make_encoder is not None
    else None
)

# orjson (3.12 on) writes a finite float as Python's repr does, but for exponents -5 to -9 (below 1e-4: 0.00001,
# 1e-7 where repr gives 1e-05, 1e-07), and a NaN or an infinity as null: a text holding "null", "0.0000" or
# "e-" and a digit may hold such a float, and json writes it instead (only slower when a string holds them). Dates
# and datetimes go to `_json_default` (isoformat), as dataclasses do (json refuses them).
_NEGATIVE_EXPONENT = re.compile(rb"e-[0-9]")
_ORJSON_OPTIONS = 0
_orjson_dumps: Callable[[Any, Any, int], bytes] | None = None
_orjson_loads: Callable[[bytes], Any] | None = None


def _orjson_agrees() -> bool:
    """Whether the installed orjson writes what json writes, on what its version could write otherwise (its
    float format changed in 3.12): if not, json writes every text."""
    probes: list[Any] = [
        [1e16, 1.5e300, 1e22, 123456789.125, 0.1, 1e-4, 2.5e-10, 5e-324, 1.7976931348623157e308, -0.0, 1e15],
        {"b": 1, "a": [True, False, 2**63, -(2**63)], "é": 'à\u2028\x7f\x1f\n"\\', "B": {"z": "", "Z": 0}},
        [Decimal("1.10"), date(2025, 1, 31), (3, 1), frozenset({2, 1})],
    ]
    assert _orjson_dumps is not None
    try:
        return all(
            _orjson_dumps(p, _json_default, _ORJSON_OPTIONS).decode() == _json_canonical(p) for p in probes
        )
    except Exception:  # an orjson that cannot write these is not used
        return False


try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency; json alone gives the same text, slower
    pass
else:
    _ORJSON_OPTIONS = (
        orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
    )
    _orjson_dumps, _orjson_loads = orjson.dumps, orjson.loads
    if not _orjson_agrees():  # pragma: no cover - an orjson older than 3.12
        _orjson_dumps = None


def write_jsonl(events: Iterable[Event[Any]]) -> str:
    """Events as JSON lines (the inverse of `read_jsonl`)."""
    return "".join(e.to_json() + "\n" for e in events)
