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
                    gc.enable()


def collect_young() -> None:
    """Collect the two young generations if enough objects were allocated since the last collection (inside
    `young_only()`; elsewhere the automatic collector does it)."""
    if _depth and gc.get_count()[0] >= YOUNG_OBJECTS:
        gc.collect(1)
