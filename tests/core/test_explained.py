"""Issue 17: what `audit verify` gives each scheme's recompute is the same whether a row's explanation is merged
anew (`Explanation.from_dict(Entitlements.explanation_of(text))`) or joined to its shared part's pieces prepared
once per part (`Entitlements.explained`): the same explanation, or the same error at the same step."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paybonus.hooks.types import Explanation
from paybonus.money import scale_weights
from paybonus.plugins.salary import prime_nao
from paybonus.store.entitlements import Entitlements, shared_hash

_leaf = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=4)
_json = st.recursive(
    _leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)
_rules = st.lists(st.sampled_from(["N-1", "N-2", "I-3", "X"]) | _json, max_size=4)
# a part: mostly as paybonus writes it, sometimes of other types (rows edited outside paybonus)
_part = st.fixed_dictionaries(
    {},
    optional={
        "inputs": st.dictionaries(st.sampled_from(["a", "b", "c"]), _json, max_size=3) | _json,
        "parameters": st.dictionaries(st.sampled_from(["p", "q"]), _json, max_size=2) | _json,
        "steps": st.lists(st.text(max_size=3), max_size=3) | _json,
        "rules": st.lists(st.sampled_from(["N-1", "N-2", "I-3", "X"]), max_size=4) | _rules | _json,
        "other": _json,
    },
)


def _store(shared: object) -> tuple[Entitlements, str]:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE shared_explanations (hash TEXT PRIMARY KEY, body TEXT)")
    body = json.dumps(shared)
    key = shared_hash(body)
    conn.execute("INSERT INTO shared_explanations VALUES (?, ?)", (key, body))
    return Entitlements(conn), key


def _merged_anew(parts: Entitlements, text: str) -> tuple[str, object]:
    """What the verifier gave a recompute before: the step that failed and its error, or the explanation."""
    try:
        d = parts.explanation_of(text)
    except Exception as exc:
        return ("read", repr(exc))
    try:
        return ("ok", Explanation.from_dict(d))
    except Exception as exc:
        return ("make", repr(exc))


def _joined(parts: Entitlements, text: str) -> tuple[str, object]:
    try:
        d = parts.explained(text)
    except Exception as exc:
        return ("read", repr(exc))
    if d.__class__ is Explanation:
        return ("ok", d)
    try:
        return ("ok", Explanation.from_dict(d))  # type: ignore[arg-type]
    except Exception as exc:
        return ("make", repr(exc))


def _same(a: tuple[str, object], b: tuple[str, object]) -> bool:
    if a[0] != b[0]:
        return False
    if a[0] != "ok":
        return a[1] == b[1]
    x, y = a[1], b[1]
    assert isinstance(x, Explanation) and isinstance(y, Explanation)
    return (
        x == y
        and type(x.inputs) is type(y.inputs)
        and _order(x.inputs) == _order(y.inputs)
        and type(x.parameters) is type(y.parameters)
        and _order(x.parameters) == _order(y.parameters)
        and type(x.steps) is type(y.steps)
        and type(x.rules) is type(y.rules)
        and x.shared is None
        and y.shared is None
    )


def _order(value: object) -> object:
    """A dict's keys in order (the merged inputs keep the shared part's first); anything else as it is."""
    return list(value) if isinstance(value, dict) else value


@settings(max_examples=300, deadline=None)
@given(_part | _json, _part | _json, st.booleans())
def test_the_same_explanation_or_the_same_error_as_merged_anew(shared, own, names_its_part):
    parts, key = _store(shared)
    if names_its_part and isinstance(own, dict):
        own = {**own, "shared": key}
    text = json.dumps(own)
    for _ in range(2):  # the second time, from the pieces kept
        assert _same(_joined(parts, text), _merged_anew(parts, text))


def test_a_missing_shared_part_is_the_same_key_error():
    parts, _ = _store({"inputs": {}})
    text = json.dumps({"inputs": {"a": 1}, "shared": "0" * 64})
    assert _same(_joined(parts, text), _merged_anew(parts, text))
    assert _joined(parts, text)[0] == "read"


def test_the_rules_keep_the_shared_order_then_the_own_ones_not_already_there():
    parts, key = _store({"inputs": {"a": 1}, "rules": ["N-2", "N-1", "N-2"], "steps": ["s"]})
    text = json.dumps(
        {"inputs": {"a": 2, "b": 3}, "rules": ["N-1", "I-3", "I-3"], "steps": ["t"], "shared": key}
    )
    got = parts.explained(text)
    assert got == Explanation({"a": 2, "b": 3}, {}, ("s", "t"), ("N-2", "N-1", "N-2", "I-3", "I-3"))
    assert _same(("ok", got), _merged_anew(parts, text))


# -- prime NAO: the instalments' weights once per schedule -------------------------------------------------------


@pytest.mark.parametrize(
    "shares",
    [
        ["0.5", "0.5"],
        ["0.25", "0.75"],
        ["1"],
        ["0.333", "0.333", "0.334"],
        [1, 1],
        ["1", 2],
        "12",
        ["x", "1"],
        [None],
        [[0, [1], 0]],
        {"0.5": 1},
    ],
)
def test_nao_weights_are_scale_weights_of_the_shares(shares):
    def before() -> object:
        try:
            return scale_weights([Decimal(s) for s in shares])
        except Exception as exc:
            return repr(exc)

    for _ in range(2):  # the second time, from the schedule kept
        try:
            got: object = list(prime_nao._weights(shares))
        except Exception as exc:
            got = repr(exc)
        assert got == before()


def test_nao_weights_follow_each_schedule_given_in_turn():
    """Schedules given one after another as fresh lists (as each row's explanation gives them): each gets its own
    weights, the reverse of one seen before included (a cache keyed by identity or by the sorted shares would not)."""
    schedules = [["0.1", "0.9"], ["0.9", "0.1"], ["0.1", "0.9"], ["0.5", "0.5"], ["0.9", "0.1"], ["1"]]
    for shares in schedules * 2:
        fresh = [str(s) for s in shares]  # a new list each time, its id maybe reused
        assert list(prime_nao._weights(fresh)) == scale_weights([Decimal(s) for s in shares])


def test_rows_of_two_shared_parts_in_turn_each_joined_to_its_own():
    """Rows of two dispatches' parts alternating A, B, A: each row is joined to its own part's pieces."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE shared_explanations (hash TEXT PRIMARY KEY, body TEXT)")
    keys = []
    for body in ({"inputs": {"pool": 100}, "rules": ["N-1"]}, {"inputs": {"pool": 200}, "rules": ["N-2"]}):
        text = json.dumps(body)
        keys.append(shared_hash(text))
        conn.execute("INSERT INTO shared_explanations VALUES (?, ?)", (keys[-1], text))
    parts = Entitlements(conn)
    for i, k in enumerate([0, 1, 0, 1, 1, 0]):
        text = json.dumps({"inputs": {"share": i}, "shared": keys[k]})
        got = parts.explained(text)
        assert got.inputs == {"pool": 100 * (k + 1), "share": i}
        assert got.rules == (("N-1",) if k == 0 else ("N-2",))
        assert _same(("ok", got), _merged_anew(parts, text))


@pytest.mark.parametrize("instalment", [0, -1, 3])
def test_nao_recompute_refuses_an_instalment_outside_its_schedule(instalment):
    """An instalment number outside 1..len(schedule) is an error of the explanation (Python's negative index
    would silently take one from the end)."""
    expl = Explanation(
        {
            "presence": {"contract_days": 30, "absent_days": 0, "period_days": 30},
            "full_cents": 100_00,
            "instalments": ["0.5", "0.5"],
            "instalment": instalment,
        },
        {},
        (),
        (),
    )
    with pytest.raises(ValueError, match="instalment"):
        prime_nao.recompute(expl)
