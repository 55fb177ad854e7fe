"""Issue 17: `json_loads` (explanations read by `audit verify` and by schemes) gives exactly what `json.loads` gives,
by orjson where that is the same value, and raises what json raised."""

from __future__ import annotations

import json
import math

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paybonus.store.entitlements import json_loads

_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=30,
)


def _same(a: object, b: object) -> bool:
    """Equal, and of the same types all the way down (1 and 1.0 differ; NaN equals NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or repr(a) == repr(b)  # type: ignore[arg-type]
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[arg-type]
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)  # type: ignore[index, call-overload]
    return a == b


def _outcome(read, text):
    try:
        return ("value", read(text))
    except Exception as exc:
        return ("error", repr(exc))


@settings(max_examples=400, deadline=None)
@given(_values, st.booleans())
def test_the_same_value_as_json_for_any_json_text(value, ascii_only):
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert _same(json_loads(text), json.loads(text))


@settings(max_examples=400, deadline=None)
@given(_values, st.integers(min_value=0, max_value=200), st.text(max_size=3))
def test_the_same_outcome_as_json_for_altered_text(value, at, insert):
    text = json.dumps(value)
    text = text[:at] + insert + text[at + 1 :]  # a character replaced by others: often not JSON any more
    a, b = _outcome(json_loads, text), _outcome(json.loads, text)
    assert a[0] == b[0] and (a[1] == b[1] if a[0] == "error" else _same(a[1], b[1]))


@pytest.mark.parametrize(
    "text",
    [
        "18446744073709551616",  # beyond 64 bits: orjson gives a float
        '{"amount_cents": -9223372036854775809}',
        "[1e400]",  # orjson refuses: json gives inf
        "NaN",
        '"\\ud800"',  # a lone surrogate
        '{"a": 1, "a": 2}',
        "9007199254740993.0",
        "[" * 2000 + "]" * 2000,  # deeper than orjson reads
    ],
)
def test_the_texts_where_orjson_alone_would_differ_or_refuse(text):
    assert _same(_outcome(json_loads, text), _outcome(json.loads, text))


def test_orjson_alone_reads_a_long_integer_as_a_float():
    """Why `json_loads` sends a text with 19 digits in a row to json: this is what it guards against."""
    assert isinstance(orjson.loads("18446744073709551616"), float)
    assert json_loads("18446744073709551616") == 2**64


def test_anything_but_text_is_refused_as_json_refuses_it():
    assert _outcome(json_loads, 5) == _outcome(json.loads, 5)
    assert _outcome(json_loads, b'{"a": 1}') == _outcome(json.loads, b'{"a": 1}')
