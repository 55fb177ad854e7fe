"""The cyclic garbage collector during a long run of work: a publish, a retry.

A large close keeps millions of objects alive for a long while (a year of pay lines, a dispatch's drafts). Each
full collection of Python's cyclic collector walks every one of them, and the collector starts one each time the
objects that survived grow by a quarter: 21 full collections in a 100 000-employee publish, a fifth of its CPU,
and more than linear in the staff (docs/performance.md). Inside `young_only()` the automatic collector is off and
`collect_young()`, called between events, collects the objects allocated since its last call: cyclic garbage is
still reclaimed as it was, while the objects that survive are walked once and then left alone until the run ends.
Reference counting frees everything else as always.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_OBJECTS = 50_000  # objects allocated since the last collection before `collect_young` collects them

_lock = threading.Lock()
_depth = 0  # nested runs (a retry inside a publish): the outermost one turns the collector back on


@contextmanager
def young_only() -> Iterator[None]:
    """Within: no automatic collection; `collect_young()` collects the young generations. The collector is
    turned back on at the end (if it was on)."""
    global _depth
    with _lock:
        owner = _depth == 0 and gc.isenabled()
        if owner:
            gc.disable()
        if owner or _depth:
            _depth += 1
    try:
        yield
    finally:
        with _lock:
            if _depth:
                _depth -= 1
                if _depth == 0:
                    _resume()


def _resume() -> None:
    """Turn the collector back on as a full collection would leave it, without one. The young collections of the
    run moved its survivors to the oldest generation and counted themselves there (one a `collect_young`), so the
    collector's first automatic collection after the run was a full one: a walk of everything the run keeps (the
    year's population, the parsed events), which it already walked once, for garbage the young collections already
    took (1.2 to 1.8 CPU s at the end of a 200 000-employee publish, none at 25 000: too few young collections to
    call for it; docs/performance.md). The objects allocated since the last young collection are collected; the
    counters are then reset by a collection of nothing (everything frozen for it: `gc.freeze` and `gc.unfreeze` move
    lists, they walk no object), and the oldest generation is left to the collector's own pace. Not when something
    else froze objects (`gc.freeze` is the process's: its frozen objects would be thawed)."""
    if gc.get_freeze_count() == 0:
        gc.collect(1)
        gc.freeze()
        try:
            gc.collect()
        finally:
            gc.unfreeze()
    gc.enable()


def collect_young() -> None:
    """Collect the two young generations if enough objects were allocated since the last collection (inside
    `young_only()`; elsewhere the automatic collector does it)."""
    if _depth and gc.get_count()[0] >= YOUNG_OBJECTS:
        gc.collect(1)
