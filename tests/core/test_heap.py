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
