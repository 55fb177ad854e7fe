"""Two publishers of one ledger, interleaved on purpose: the same net amounts as one publisher.

`test_concurrency` runs two real processes and leaves the interleaving to the scheduler; this test chooses it. Two
publishers run in two threads, each with its own connections, and hand over to each other between a scheme's
computation and the transaction that records it: exactly the window in which the other may record an event that
the computation did not see. Each pattern of hand-overs is deterministic, so a failure reproduces.

The bug it found (CI, December 2026): a computation's check before recording compared the company's latest
entitlement, payment, configuration and payroll load, not its events. Publisher B computed a dispatch while
publisher A recorded an event it would have read, and whose own dispatch recorded nothing (a close, evidence, a
result waiting for the rest); B's check passed and the ledger kept a result computed without that event.
"""

import json
import random
import threading
from collections.abc import Callable
from typing import Any

import pytest
from helpers.overlapping import overlapping_year
from paybonus import Ledger
from paybonus.app import Paybonus
from paybonus.fixtures.generator import SAMPLE_SCHEMES, generate, write_company_dir


def _owed(target: str) -> list[tuple]:
    """What the ledger owes, net of corrections, per company, scheme, employee and period."""
    with Ledger.open(target) as ledger:
        return ledger.conn.execute(
            "SELECT company, scheme, employee, period_start, period_end, SUM(amount_cents) FROM entitlements "
            "WHERE kind != 'interest' GROUP BY 1, 2, 3, 4, 5 HAVING SUM(amount_cents) != 0 ORDER BY 1, 2, 3, 4, 5"
        ).fetchall()


class Baton:
    """Whose turn it is: one publisher runs at a time, and hands over when its pattern says so."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.turn = 0
        self.done = [False, False]

    def wait(self, me: int) -> None:
        with self.cond:
            self.cond.wait_for(lambda: self.turn == me)

    def hand_over(self, me: int) -> None:
        with self.cond:
            if self.done[1 - me]:
                return
            self.turn = 1 - me
            self.cond.notify_all()
            self.cond.wait_for(lambda: self.turn == me)

    def finish(self, me: int) -> None:
        with self.cond:
            self.done[me] = True
            self.turn = 1 - me
            self.cond.notify_all()


def _after_computing(app, hand_over: Callable[[], None]) -> None:
    """Hand over once a scheme's computation returned, before the transaction that records it."""
    _after(app.bus, "_compute", hand_over)


def _between_a_scheme_s_reads(app, hand_over: Callable[[], None]) -> None:
    """Hand over after each read a scheme makes of the ledger (each a statement of its own on the reader's
    connection), while it computes: the other may commit between two reads of one computation."""
    # no time limit: a computation then runs in its publisher's thread, not in the process's one guest thread,
    # where the other publisher's would wait behind this one's hand-over; and no timeout opens another reader
    app.bus.timeout = None
    reader = app.bus.reader
    for name in (
        "events",
        "entitlements",
        "entitlement",
        "paid_cents",
        "payroll",
        "event",
        "dispatch_summary",
    ):
        _after(reader, name, hand_over)


def _after(obj, name: str, hand_over: Callable[[], None]) -> None:
    method = getattr(obj, name)

    def then_hand_over(*args, **kwargs):
        result = method(*args, **kwargs)
        hand_over()
        return result

    setattr(obj, name, then_hand_over)


def _after_the_version_and_after_computing(app, hand_over: Callable[[], None]) -> None:
    """Between `Ledger.version` and the computation, and between the computation and its recording: the other
    may then compute and record a whole dispatch of its own inside this one's window."""
    _after(app.ledger, "version", hand_over)
    _after_computing(app, hand_over)


HANDOVERS = {
    "after computing": _after_computing,
    "between a scheme's reads": _between_a_scheme_s_reads,
    "after the version and after computing": _after_the_version_and_after_computing,
}


def _publish_interleaved(
    target: str,
    files: list,
    switch: Callable[[int], bool],
    at_least: int = 10,
    where: Callable[[Any, Callable[[], None]], None] = _after_computing,
) -> None:
    baton = Baton()
    errors: list[BaseException] = []
    handed = [0]

    def publisher(me: int) -> None:
        baton.wait(me)
        try:
            with Paybonus.open(target) as app:

                def hand_over() -> None:
                    # never inside a write transaction: the other publisher could not write, and would wait
                    if not app.ledger._writing and switch(me):
                        handed[0] += 1
                        baton.hand_over(me)

                where(app, hand_over)
                app.publish(files[me])
        except BaseException as exc:  # reported by the test, after both have finished
            errors.append(exc)
        finally:
            baton.finish(me)

    threads = [threading.Thread(target=publisher, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors, errors
    assert handed[0] >= at_least  # the pattern did interleave


@pytest.fixture(scope="module")
def year(tmp_path_factory):
    """Two companies' year split in two overlapping files, and the ledger one publisher makes of the whole."""
    root = tmp_path_factory.mktemp("year")
    overlapping_year(root, employees=24)
    reference = str(root / "one.db")
    _fresh(root, reference)
    with Paybonus.open(reference) as app:
        app.publish(root / "all.jsonl")
    owed = _owed(reference)
    assert len(owed) > 50
    return root, owed


def _fresh(root, target: str) -> None:
    with Paybonus.create(target) as app:
        for name in ("ALPHA", "BETA"):
            app.load_company(root / name)


PATTERNS = {
    "after every computation": lambda seed: lambda me: True,
    "after every other computation of the first": lambda seed: (
        lambda counter: lambda me: me == 1 or next(counter) % 2 == 0
    )(iter(range(10**6))),
    **{
        f"at random, seed {s}": (
            lambda seed: (lambda rng: lambda me: rng.random() < 0.4)(random.Random(seed))
        )
        for s in range(4)
    },
}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.parametrize("pattern", list(PATTERNS))
def test_two_publishers_handing_over_between_computing_and_recording_owe_what_one_publisher_owes(
    year, tmp_path, backend, pattern, request
):
    root, expected = year
    target = str(tmp_path / "two.db") if backend == "sqlite" else request.getfixturevalue("pg_url")
    _fresh(root, target)
    seed = list(PATTERNS).index(pattern)
    _publish_interleaved(target, [root / "a.jsonl", root / "b.jsonl"], PATTERNS[pattern](seed))
    assert _owed(target) == expected
    with Paybonus.open(target) as app:
        report = app.verify()
        assert not report.problems, report.problems[:3]


@pytest.mark.parametrize(
    "where,backend",
    [
        ("after computing", "sqlite"),
        ("after computing", "postgresql"),
        ("between a scheme's reads", "sqlite"),
        ("after the version and after computing", "sqlite"),
        ("after the version and after computing", "postgresql"),
    ],
)
def test_the_year_s_results_and_its_last_close_published_at_once_still_compute_the_interessement(
    tmp_path, where, backend, request
):
    """I-3: the pool is computed once both the results and the close of the calculation period are recorded. Each
    publisher computes its event's dispatch before the other records its event: each waits for the other's. The
    first to record must make the other compute again, or no intéressement is ever computed for the year."""
    g = generate(
        "ALPHA", employees=10, seed=3, schemes_toml=SAMPLE_SCHEMES, results={"rcai": "300000", "rsp": "0"}
    )
    write_company_dir(g, tmp_path / "ALPHA")
    events = sorted(g.events, key=lambda e: (e["occurred_at"], e["id"]))
    close, results = "ALPHA-close-2025-12", "ALPHA-results-2025"
    files = {
        "all": events,
        "before": [e for e in events if e["id"] not in (close, results)],
        "a": [e for e in events if e["id"] == close],
        "b": [e for e in events if e["id"] == results],
    }
    assert len(files["a"]) == len(files["b"]) == 1
    for name, lines in files.items():
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines))
    reference = str(tmp_path / "one.db")
    with Paybonus.create(reference) as app:
        app.load_company(tmp_path / "ALPHA")
        app.publish(tmp_path / "all.jsonl")
    expected = _owed(reference)
    assert any(r[1] == "interessement" for r in expected)

    target = str(tmp_path / "two.db") if backend == "sqlite" else request.getfixturevalue("pg_url")
    with Paybonus.create(target) as app:
        app.load_company(tmp_path / "ALPHA")
        app.publish(tmp_path / "before.jsonl")
    _publish_interleaved(
        target,
        [tmp_path / "a.jsonl", tmp_path / "b.jsonl"],
        lambda me: True,
        at_least=2,
        where=HANDOVERS[where],
    )
    assert _owed(target) == expected
    with Paybonus.open(target) as app:
        report = app.verify()
        assert not report.problems, report.problems[:3]


def test_two_publishers_handing_over_between_a_computation_s_reads_owe_what_one_publisher_owes(
    year, tmp_path, request
):
    """PostgreSQL without the worker's held lock (`--db postgresql://`): each event recorded before its dispatches
    are computed. The other publisher records and computes between two reads of one computation, which then
    reads what it recorded in its later reads: the check before recording must send it back (without the
    check, this pattern fails)."""
    root, expected = year
    target = request.getfixturevalue("pg_url")
    _fresh(root, target)
    pattern = "at random, seed 2"
    _publish_interleaved(
        target,
        [root / "a.jsonl", root / "b.jsonl"],
        PATTERNS[pattern](list(PATTERNS).index(pattern)),
        where=_between_a_scheme_s_reads,
    )
    assert _owed(target) == expected
    with Paybonus.open(target) as app:
        report = app.verify()
        assert not report.problems, report.problems[:3]


def _with_and_without(tmp_path) -> None:
    """ALPHA's year with the intéressement (`with/`) and without it (`without/`), and its events split in two:
    `last.jsonl` holds the results, `before.jsonl` all the rest."""
    kw: dict[str, Any] = {"employees": 10, "seed": 3, "results": {"rcai": "300000", "rsp": "0"}}
    write_company_dir(generate("ALPHA", schemes_toml=SAMPLE_SCHEMES, **kw), tmp_path / "with")
    g = generate("ALPHA", schemes_toml="", **kw)
    write_company_dir(g, tmp_path / "without")
    events = sorted(g.events, key=lambda e: (e["occurred_at"], e["id"]))
    results = "ALPHA-results-2025"
    (tmp_path / "before.jsonl").write_text(
        "".join(json.dumps(e) + "\n" for e in events if e["id"] != results)
    )
    (tmp_path / "last.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events if e["id"] == results))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.parametrize("before,after", [("without", "with"), ("with", "without")], ids=["adds", "removes"])
def test_a_load_between_choosing_an_event_s_schemes_and_recording_it_changes_them(
    tmp_path, before, after, backend, request
):
    """`paybonus load` while publishing: an event is dispatched to the schemes configured when it was recorded
    (`paybonus.in_force`). A load that adds or removes the intéressement commits after the publisher chose the
    results' schemes (from the configuration digest it reads once for a batch) but before it records the event:
    the event is recorded under the new configuration and must be dispatched as one publisher would after the
    load. Before: the intéressement a load added never ran for it (`verify`: never ran), or one it removed ran and
    failed (`verify`: failed)."""
    _with_and_without(tmp_path)
    reference = str(tmp_path / "one.db")
    with Paybonus.create(reference) as app:
        app.load_company(tmp_path / before)
        app.publish(tmp_path / "before.jsonl")
        app.load_company(tmp_path / after)
        app.publish(tmp_path / "last.jsonl")
    expected = _owed(reference)
    assert any(r[1] == "interessement" for r in expected) == (after == "with")

    target = str(tmp_path / "two.db") if backend == "sqlite" else request.getfixturevalue("pg_url")
    with Paybonus.create(target) as app:
        app.load_company(tmp_path / before)
        app.publish(tmp_path / "before.jsonl")
    with Paybonus.open(target) as app, Paybonus.open(target) as loader:
        batch, loaded = app.bus._batch, []

        def chosen_then_loaded(*args, **kwargs):
            out = batch(*args, **kwargs)  # the batch's configuration digest read: the schemes chosen by it
            if not loaded:
                loaded.append(loader.load_company(tmp_path / after))
            return out

        app.bus._batch = chosen_then_loaded  # type: ignore[method-assign]
        app.publish(tmp_path / "last.jsonl")
    assert loaded
    assert _owed(target) == expected
    with Paybonus.open(target) as app:
        report = app.verify()
        assert not report.problems, report.problems[:3]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_load_removing_a_scheme_between_recording_an_event_and_dispatching_it(tmp_path, backend, request):
    """`paybonus load` while publishing, later: the event recorded (its own transaction: PostgreSQL without the
    worker's lock, or SQLite once another publisher made its first computation stale), then a load removes the
    intéressement before the dispatch reads the company. A removed scheme is no longer run (`paybonus.in_force`),
    as publishing the event again would not run it. Before: it ran on a configuration without it and recorded a
    failure, which `audit verify` reported and `paybonus retry` (which runs configured schemes only) never
    cleared."""
    _with_and_without(tmp_path)
    target = str(tmp_path / "two.db") if backend == "sqlite" else request.getfixturevalue("pg_url")
    with Paybonus.create(target) as app:
        app.load_company(tmp_path / "with")
        app.publish(tmp_path / "before.jsonl")
    with Paybonus.open(target) as app, Paybonus.open(target) as loader:
        app.bus._unheld_together = lambda event: False  # type: ignore[method-assign]  # as after a stale read
        record, version, loaded = app.bus._record_event, app.ledger.version, []

        def recorded(event):
            head = record(event)
            loaded.append(False)
            return head

        def loaded_then_read(company):
            if loaded == [False]:  # the first read after the event was recorded: its dispatch's
                loaded[0] = loader.load_company(tmp_path / "without")
            return version(company)

        app.bus._record_event = recorded  # type: ignore[method-assign]
        app.ledger.version = loaded_then_read  # type: ignore[method-assign]
        outcome = app.publish(tmp_path / "last.jsonl")
    assert loaded and loaded[0]
    assert outcome.counts["failed"] == 0
    assert not any(r[1] == "interessement" for r in _owed(target))
    with Paybonus.open(target) as app:
        report = app.verify()
        assert not report.problems, report.problems[:3]
