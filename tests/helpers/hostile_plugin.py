"""A scheme that misbehaves on demand (MODE), for the tests of plugins as guests (issue 13)."""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import time
from typing import Any

from paybonus.events import Event
from paybonus.hooks import (
    DsnMapping,
    EntitlementDraft,
    Explanation,
    Kind,
    SchemeContext,
    SchemeDescriptor,
    SchemeResult,
    SocialRegime,
    hookimpl,
)

MODE = {"compute": "ok", "notify": "ok", "recompute": "ok", "register": "ok"}
MARKER: list[str] = []  # a file the "hang" compute creates once it hangs (test_plugins_guests.py)
NIR = "1850578006048"
TOML = "\n[schemes.hostile]\n"


def _connections(obj: Any, seen: set[int] | None = None, depth: int = 0) -> list[sqlite3.Connection]:
    """Every SQLite connection reachable from `obj` through attributes (what a nosy plugin would find)."""
    seen = set() if seen is None else seen
    if id(obj) in seen or depth > 4:
        return []
    seen.add(id(obj))
    if isinstance(obj, sqlite3.Connection):
        return [obj]
    found = []
    for v in list(getattr(obj, "__dict__", {}).values()) + [
        getattr(obj, s, None) for s in getattr(type(obj), "__slots__", ())
    ]:
        if v is not None and not isinstance(v, str | int | float | bytes | dict | list | tuple):
            found += _connections(v, seen, depth + 1)
    return found


def compute(event: Event[Any], ctx: SchemeContext) -> SchemeResult:
    mode = MODE["compute"]
    period = event.payload.period
    expl = Explanation({}, {"amount_cents": 100}, ["fixed"], ["test"])
    employees = ctx.population(period).employees
    if mode == "hang":
        if MARKER:  # tell a waiting test that the compute now hangs (a file it watches)
            with open(MARKER[0], "w", encoding="utf-8"):
                pass
        while True:
            time.sleep(0.05)
    if mode == "hang_swallow":  # swallows what a timer raises with `except Exception`
        while True:
            with contextlib.suppress(Exception):
                time.sleep(0.05)
    if mode == "exit0":
        sys.exit(0)
    if mode == "exit3":
        raise SystemExit(3)
    if mode == "interrupt":
        raise KeyboardInterrupt
    if mode == "write":
        conns = _connections(ctx)
        assert conns, "the test plugin found no connection to try"
        dropped = 0
        for c in conns:  # every one reachable, not only the first
            for sql in ("DROP TRIGGER events_no_update", "DELETE FROM events", "PRAGMA query_only = OFF"):
                try:
                    c.execute(sql)
                    dropped += sql.startswith(("DROP", "DELETE"))
                except sqlite3.Error:
                    pass
            try:
                c.execute("DROP TRIGGER events_no_update")
                dropped += 1
            except sqlite3.Error:
                pass
        raise RuntimeError(f"tried {len(conns)} connections, wrote through {dropped}")
    if mode == "personal":
        raise ValueError(f"employee NIR {NIR} earns 2350.40 a month, due 123456 cents")
    if mode == "huge":
        return SchemeResult([EntitlementDraft(employees[0].id, period, 2**63 - 1, expl)])
    if mode == "not_int":
        return SchemeResult([EntitlementDraft(employees[0].id, period, 10**30, expl)])
    if mode == "bad_result":
        return "not a result"  # type: ignore[return-value]
    first = employees[0].id
    if mode in DRAFTS:
        return SchemeResult(**DRAFTS[mode](first, period, expl))
    return SchemeResult([EntitlementDraft(e.id, period, 100, expl) for e in employees[:2]])


# what a scheme may not return: mode -> SchemeResult's fields (the bus refuses them, a dead letter names why)
DRAFTS: dict[str, Any] = {
    "finding_text": lambda emp, period, expl: {"findings": ["a reliquat of 3 cents"]},
    "draft_dict": lambda emp, period, expl: {"entitlements": [{"employee": emp, "amount_cents": 100}]},
    "negative": lambda emp, period, expl: {"entitlements": [EntitlementDraft(emp, period, -100, expl)]},
    "advance_zero": lambda emp, period, expl: {
        "entitlements": [EntitlementDraft(emp, period, 0, expl, kind=Kind.ADVANCE)]
    },
    "correction_alone": lambda emp, period, expl: {
        "entitlements": [EntitlementDraft(emp, period, -5, expl, kind=Kind.CORRECTION)]
    },
    "twice": lambda emp, period, expl: {
        "entitlements": [EntitlementDraft(emp, period, 100, expl), EntitlementDraft(emp, period, 200, expl)]
    },
    "shared_twice": lambda emp, period, expl: {
        "entitlements": [
            EntitlementDraft(
                emp, period, 100, Explanation(shared=Explanation(shared=Explanation(steps=["pool"])))
            )
        ]
    },
}


def recompute(expl: Explanation) -> int:
    if MODE["recompute"] == "hang":
        while True:
            time.sleep(0.05)
    if MODE["recompute"] == "exit":
        sys.exit(0)
    return 100


class HostilePlugin:
    @hookimpl
    def paybonus_register_schemes(self) -> Any:
        mode = MODE["register"]
        if mode == "int":
            return 42
        if mode == "list_of_int":
            return [42]
        if mode == "string":
            return "hostile"
        if mode == "exit":
            sys.exit(0)
        return [
            SchemeDescriptor(
                name="hostile",
                version="1.0",
                label="Hostile test scheme",
                handlers={"period_closed": compute},
                recompute=recompute,
                dsn=DsnMapping("S21.G00.52", "028", "test"),
                social_regime=SocialRegime.SALARY,
            )
        ]

    @hookimpl
    def paybonus_entitlements_recorded(self, event: Any, scheme: str, entitlement_ids: list[str]) -> None:
        if MODE["notify"] == "hang" and scheme == "hostile":
            while True:
                time.sleep(0.05)
        if MODE["notify"] == "exit" and scheme == "hostile":
            sys.exit(0)
