"""Events: JSON lines both ways, precise validation errors."""

import enum
import os
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paybonus.calendar import Period
from paybonus.errors import UserError
from paybonus.events import (
    EmployeeLeft,
    Event,
    EventType,
    EventTypes,
    PaymentRecorded,
    PeriodClosed,
    ResultsPublished,
    write_jsonl,
)

T = EventTypes()
ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)
names = ids.filter(lambda s: ".." not in s)  # a company's id: no ".." (it names files)
dates = st.dates(date(2015, 1, 1), date(2035, 12, 31))
moments = st.datetimes(datetime(2015, 1, 1), datetime(2035, 1, 1), timezones=st.just(UTC))
periods = st.tuples(dates, st.integers(0, 400)).map(
    lambda t: Period(t[0], date.fromordinal(t[0].toordinal() + t[1]))
)
decimals = st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False)
payloads = st.one_of(
    dates.map(lambda d: PeriodClosed(Period.month(d.year, d.month))),  # a pay period is a calendar month
    st.builds(
        ResultsPublished,
        periods,
        st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True), decimals, max_size=5),
    ),
    st.builds(
        EmployeeLeft,
        ids,
        dates,
        st.one_of(st.none(), st.just("059")),
        st.one_of(st.none(), st.text(max_size=40)),
    ),
    st.builds(PaymentRecorded, ids, st.integers(1, 10**9), dates, st.sampled_from(["paid", "placed"])),
)
TYPES = {
    PeriodClosed: "period_closed",
    ResultsPublished: "results_published",
    EmployeeLeft: "employee_left",
    PaymentRecorded: "payment_recorded",
}


@given(ids, names, moments, payloads)
def test_json_round_trip(eid, company, at, payload):
    e = Event(eid, TYPES[type(payload)], company, at, payload)
    back = T.from_json(e.to_json())
    assert back == e
    assert back.to_json() == e.to_json()  # canonical: same event, same text, same digest


def test_jsonl_both_ways():
    e1 = Event(
        "a", "period_closed", "ACME", datetime(2025, 1, 31, tzinfo=UTC), PeriodClosed(Period.parse("2025-01"))
    )
    e2 = Event(
        "b",
        "results_published",
        "ACME",
        datetime(2026, 3, 1, tzinfo=UTC),
        ResultsPublished(Period.parse("2025"), {"rcai": Decimal("123456.78")}),
    )
    text = write_jsonl([e1, e2])
    assert [e for _, e in T.read_jsonl("f.jsonl", text)] == [e1, e2]
    assert '"rcai":"123456.78"' in text  # decimals travel as strings, never floats


def test_decimal_numbers_in_json_are_exact():
    line = (
        '{"id":"r","type":"results_published","company":"A","occurred_at":"2026-01-01T00:00:00Z",'
        '"payload":{"period":"2025","figures":{"rcai":0.1,"ca":1e2}}}'
    )
    e = T.from_json(line)
    assert e.payload.figures["rcai"] == Decimal("0.1")
    assert e.payload.figures["ca"] == Decimal("1E+2")


BASE = '"id":"e1","company":"A","occurred_at":"2025-01-31T18:00:00Z"'


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id":"e1"', "malformed JSON"),
        ("[1]", "an event is a JSON object"),
        ("{" + BASE + ',"type":"nope","payload":{}}', "type: unknown event type 'nope'"),
        ("{" + BASE + ',"type":"period_closed"}', "payload: required field missing"),
        ("{" + BASE + ',"type":"period_closed","payload":{}}', "payload.period: required field missing"),
        ("{" + BASE + ',"type":"period_closed","payload":{"period":"2025-01"},"x":1}', "x: unknown field"),
        (
            '{"id":"e1","company":"A","occurred_at":"2025-01-31T18:00:00","type":"period_closed","payload":{"period":"2025-01"}}',
            "occurred_at: timestamp '2025-01-31T18:00:00' needs a time zone",
        ),
        (
            "{"
            + BASE
            + ',"type":"payment_recorded","payload":{"entitlement":"x","amount_cents":1.5,"paid_on":"2025-01-01"}}',
            "payload.amount_cents: expected an integer number of cents, got 1.5 (a number with a decimal point",
        ),
        (
            "{"
            + BASE
            + ',"type":"payment_recorded","payload":{"entitlement":"x","amount_cents":-5,"paid_on":"2025-01-01"}}',
            "payload: amount_cents must be positive",
        ),
        (
            "{"
            + BASE
            + ',"type":"payment_recorded","payload":{"entitlement":"x","amount_cents":5,"paid_on":"2025-01-01","mode":"cash"}}',
            "payload.mode: expected one of",
        ),
        (
            "{" + BASE + ',"type":"employee_left","payload":{"employee":"E1","left_on":"2025-02-30"}}',
            "payload.left_on: expected a date YYYY-MM-DD, got '2025-02-30'",
        ),
        (
            "{" + BASE + ',"type":"results_published","payload":{"period":"2025","figures":{"rcai":"abc"}}}',
            "payload.figures['rcai']: expected a decimal number in ASCII digits (like '12.5'), got 'abc'",
        ),
        (
            "{"
            + BASE
            + ',"type":"period_closed","payload":{"period":{"start":"2025-02-01","end":"2025-01-01"}}}',
            "payload.period: period ends (2025-01-01) before it starts (2025-02-01)",
        ),
        (
            '{"id":"e 1","company":"A","occurred_at":"2025-01-31T18:00:00Z","type":"period_closed","payload":{"period":"2025-01"}}',
            "id 'e 1' must be",
        ),
    ],
)
def test_validation_errors_are_precise(line, message):
    with pytest.raises(ValueError) as info:
        T.from_json(line)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_read_jsonl_names_file_and_line():
    lines = ["{" + BASE + ',"type":"period_closed","payload":{"period":"2025-01"}}', "", '{"id":']
    with pytest.raises(UserError, match=r"^events.jsonl:3: malformed JSON"):
        list(T.read_jsonl("events.jsonl", lines))


def test_plugins_can_add_event_types():
    from attrs import frozen

    @frozen
    class ObjectivesSet:
        employee: str

    types = EventTypes()
    types.add(EventType("objectives_set", ObjectivesSet, "objectives were communicated"))
    e = types.from_json("{" + BASE + ',"type":"objectives_set","payload":{"employee":"E1"}}')
    assert e.payload == ObjectivesSet("E1")
    with pytest.raises(ValueError):
        types.add(EventType("Bad Name", ObjectivesSet, ""))


def test_canonical_json_writes_decimals_dates_periods_and_sets_as_text_and_lists():
    # the digests of the ledger hash this text: a Decimal keeps its scale, a set is sorted, a date is ISO
    from paybonus.events import canonical_json

    data = {
        "b": Decimal("1.10"),
        "a": date(2025, 1, 31),
        "t": datetime(2025, 1, 31, 8, 0, tzinfo=UTC),
        "p": Period.parse("2025"),
        "s": {"y", "x"},
        "f": frozenset({2, 1}),
        "u": (3, 1),
        "é": "à",
    }
    assert canonical_json(data) == (
        '{"a":"2025-01-31","b":"1.10","f":[1,2],"p":"2025-01-01..2025-12-31","s":["x","y"],'
        '"t":"2025-01-31T08:00:00+00:00","u":[3,1],"é":"à"}'
    )
    with pytest.raises(TypeError, match="object is not JSON serialisable"):
        canonical_json({"x": object()})


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | decimals
    | dates
    | periods
    | st.frozensets(st.text(max_size=3), max_size=3),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_canonical_json_is_json_dumps_with_sorted_keys(value):
    """The encoder built once gives what `json.dumps` gave (stored explanations and digests depend on it)."""
    import json

    from paybonus.events import _json_default, canonical_json

    assert canonical_json(value) == json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
    )


class _Level(enum.StrEnum):
    LOW = "low"


class _Count(enum.IntEnum):
    ONE = 1


class _Pair(NamedTuple):
    a: Any
    b: Any


# what orjson and json may write differently, or one refuse and the other not: floats of every magnitude, NaN and
# infinities, integers beyond 64 bits, any text (lone surrogates, control characters, U+2028, DEL), keys that are
# not strings, enums of str and int, named tuples, datetimes with an offset, Decimals of any exponent
wild_floats = st.floats() | st.sampled_from(
    [1e-5, 1.5e-5, 1e-7, -3e-9, 1e-10, 1e16, 1e22, -0.0, float("nan")]
)
wild_ints = st.integers() | st.integers(min_value=2**60, max_value=2**70).flatmap(
    lambda n: st.sampled_from([n, -n])
)
wild_leaves = (
    st.none()
    | st.booleans()
    | wild_ints
    | wild_floats
    | st.text(st.characters(exclude_categories=()))  # lone surrogates too
    | st.decimals()
    | dates
    | st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), None]))
    | periods
    | st.sampled_from([_Level.LOW, _Count.ONE])
    | st.frozensets(st.text(max_size=3), max_size=3)
    | st.builds(_Pair, st.integers(), st.text(max_size=3))
)
wild_keys = (
    st.text(st.characters(exclude_categories=()), max_size=6)
    | st.integers()
    | st.sampled_from([_Level.LOW, None, True])
)


@settings(max_examples=int(os.environ.get("PAYBONUS_JSON_EXAMPLES", "400")))
@given(
    st.recursive(
        wild_leaves,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.tuples(inner, inner)
            | st.dictionaries(wild_keys, inner, max_size=4)
            | st.dictionaries(st.text(max_size=6), inner, max_size=4)
        ),
        max_leaves=25,
    )
)
def test_canonical_json_by_orjson_is_the_text_of_json_dumps(value):
    """orjson writes the canonical text only where it is json's own, byte for byte; where json refuses, so does
    canonical_json, with json's error."""
    import json

    from paybonus.events import _json_default, canonical_json

    try:
        expected = json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
        )
    except (TypeError, ValueError) as exc:
        with pytest.raises(type(exc)):
            canonical_json(value)
        return
    assert canonical_json(value) == expected


def test_canonical_json_by_orjson_leaves_the_floats_it_writes_its_own_way_to_json():
    from paybonus import events

    assert events._orjson_dumps is not None  # a dependency, of a version that agrees (3.12 on)
    for value, text in (
        (1.5e-05, "1.5e-05"),
        (1e-07, "1e-07"),
        (float("nan"), "NaN"),
        (float("-inf"), "-Infinity"),
        (2**64, "18446744073709551616"),
        ({"a": "five-year", "b": "0.0000 null"}, '{"a":"five-year","b":"0.0000 null"}'),
    ):
        assert events.canonical_json(value) == text


def test_canonical_json_writes_a_plain_enum_and_a_uuid_the_same_on_both_paths():
    """orjson writes a plain Enum (its value) and a UUID itself; json writes them the same (`_json_default`), so
    a text that falls back to json (here a null) neither changes nor fails."""
    import uuid

    from paybonus import events

    class Colour(enum.Enum):
        RED = "red"
        ONE = 1

    data = {"c": Colour.RED, "n": Colour.ONE, "u": uuid.UUID(int=5)}
    text = '{"c":"red","n":1,"u":"00000000-0000-0000-0000-000000000005"}'
    assert events.canonical_json(data) == text
    assert events._json_canonical(data) == text
    assert events.canonical_json({**data, "z": None}) == text[:-1] + ',"z":null}'


def test_canonical_json_without_an_agreeing_orjson_is_json_alone(monkeypatch):
    from paybonus import events

    data = {"b": [Decimal("1.10"), 1e16], "a": date(2025, 1, 31), "é": "à"}
    text = events.canonical_json(data)
    monkeypatch.setattr(events, "_orjson_dumps", lambda *a: b'{"a":1e16}')  # orjson before 3.12 wrote 1e16
    assert not events._orjson_agrees()
    monkeypatch.setattr(events, "_orjson_dumps", None)
    assert events.canonical_json(data) == text == '{"a":"2025-01-31","b":["1.10",1e+16],"é":"à"}'


def test_canonical_json_refuses_data_that_holds_itself():
    from paybonus.events import canonical_json

    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(RecursionError):
        canonical_json(loop)


def test_a_line_of_more_than_a_mebibyte_is_one_event():
    # a large employer's results or objective results for every employee exceed 1 MiB (1.3 MB at 200 000)
    figures = {f"f{i:07d}": "1.5" for i in range(80_000)}
    line = Event(
        "R-big",
        "results_published",
        "ACME",
        datetime(2026, 1, 5, tzinfo=UTC),
        ResultsPublished(Period.parse("2025"), {k: Decimal(v) for k, v in figures.items()}),
    ).to_json()
    assert len(line) > 1024 * 1024
    [(_, event)] = T.read_jsonl("big.jsonl", line)
    assert len(event.payload.figures) == 80_000
    with pytest.raises(UserError, match="longer than 16 MiB"):
        T.read_jsonl("huge.jsonl", line[:-1] + " " * (16 * 1024 * 1024) + "}")


def test_canonical_json_writes_a_text_with_nones_by_orjson_and_a_nan_among_them_by_json(monkeypatch):
    """A null of orjson's text is json's when it was a None (an explanation's date not set, an amount not given):
    that text is orjson's, without json; a NaN or an infinity anywhere beside it (orjson writes null, json NaN or
    Infinity), also inside a tuple, a set or behind a Decimal or a date, still gives json's text."""
    import json

    from paybonus import events

    def reference(value):
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=events._json_default
        )

    nan, inf = float("nan"), float("inf")
    for value in (
        {"a": None, "b": nan},
        [None, inf],
        [None, -inf, 1],
        {"a": None, "t": (nan,)},
        {"a": None, "s": frozenset({inf})},
        {"a": None, "d": Decimal("1.0"), "x": [{"y": -inf}]},
        {"a": None, "day": date(2025, 1, 31), "x": nan},
        [[None], [[nan]]],
    ):
        assert events.canonical_json(value) == reference(value)
    with_nones = {"left_on": None, "inputs": {"fallback": None, "amount_cents": None, "n": [1, None, "null"]}}
    monkeypatch.setattr(events, "_json_canonical", lambda data: pytest.fail("written by json"))
    assert events.canonical_json(with_nones) == reference(with_nones)
