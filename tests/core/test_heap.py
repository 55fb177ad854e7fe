"""The cyclic collector during a publish: off for full collections, young garbage still collected, restored."""

import gc
import weakref

from paybonus import heap


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector frees it


def test_the_collector_is_off_within_and_restored_after():
    assert gc.isenabled()
    with heap.young_only():
        assert not gc.isenabled()
        with heap.young_only():  # a retry inside a publish
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_restored_after_an_error():
    try:
        with heap.young_only():
            raise ValueError
    except ValueError:
        pass
    assert gc.isenabled()


def test_a_collector_turned_off_by_the_program_stays_off():
    gc.disable()
    try:
        with heap.young_only():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_young_cyclic_garbage_is_collected_between_events(monkeypatch):
    monkeypatch.setattr(heap, "YOUNG_OBJECTS", 1)
    with heap.young_only():
        node = Node()
        ref = weakref.ref(node)
        del node
        assert ref() is not None  # the collector is off: the cycle stays
        heap.collect_young()
        assert ref() is None


def test_outside_a_run_collect_young_does_nothing(monkeypatch):
    monkeypatch.setattr(heap, "YOUNG_OBJECTS", 1)
    gc.disable()
    try:
        node = Node()
        ref = weakref.ref(node)
        del node
        heap.collect_young()
        assert ref() is not None
    finally:
        gc.enable()
        gc.collect()


def test_a_publish_computes_without_full_collections_and_restores_the_collector(
    paybonus_bus, paybonus_events, monkeypatch
):
    from helpers.plugins import SCHEMES_TOML, FlakyPlugin, FlatPlugin
    from paybonus.bus import EventBus
    from paybonus.fixtures.pytest_plugin import make_company

    bus = paybonus_bus(FlatPlugin(), FlakyPlugin(), company=make_company(schemes_toml=SCHEMES_TOML))
    seen = []
    compute = EventBus._compute

    def spy(self, event, scheme, *rest):
        seen.append(gc.isenabled())
        return compute(self, event, scheme, *rest)

    monkeypatch.setattr(EventBus, "_compute", spy)
    bus.publish_all([("", paybonus_events.period_closed("2025-03"))])
    assert seen and not any(seen)
    assert gc.isenabled()


def _full_collections(work):
    """The automatic full collections (of objects the run kept) that start while `work()` runs."""
    full = []

    def seen(phase, info):
        if phase == "start" and info["generation"] == 2:
            full.append(info)

    gc.callbacks.append(seen)
    try:
        work()
    finally:
        gc.callbacks.remove(seen)
    return full


def test_leaving_a_long_run_starts_no_full_collection(monkeypatch):
    """A run of many young collections (one between each event) used to end in a full collection at the first
    allocation after it: a walk of all it kept (1.2 to 1.8 CPU s at the end of a 200 000-employee publish)."""
    monkeypatch.setattr(heap, "YOUNG_OBJECTS", 1)
    gc.collect()
    kept = []
    with heap.young_only():
        for _ in range(30):  # more young collections than the collector's threshold of the oldest generation
            kept += [[i] for i in range(5_000)]  # survivors: moved to the oldest generation
            heap.collect_young()
        after = _full_collections(lambda: [[i] for i in range(2_000)])
        assert not after  # off within
    assert gc.isenabled()
    assert not _full_collections(lambda: [[i] for i in range(20_000)])
    assert len(kept) == 150_000


def test_the_objects_of_the_run_stay_collectable_after_it(monkeypatch):
    """Nothing is left frozen: a cycle the run made, young at its end or older, is collected after it."""
    monkeypatch.setattr(heap, "YOUNG_OBJECTS", 1)
    with heap.young_only():
        old = Node()
        heap.collect_young()  # survives: moved to the oldest generation
        young = Node()  # allocated after the last young collection
        refs = weakref.ref(old), weakref.ref(young)
        del old
    del young
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert refs[0]() is None and refs[1]() is None


def test_objects_the_program_froze_stay_frozen():
    gc.collect()
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 0
        with heap.young_only():
            pass
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
