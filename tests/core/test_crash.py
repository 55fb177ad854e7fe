"""Crash consistency: SIGKILL the publisher at random points, publish again, get the uninterrupted ledger."""

import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.plugins import FlatPlugin
from paybonus import Ledger, load_plugins
from paybonus.audit import verify
from paybonus.fixtures.pytest_plugin import EventFactory, make_company
from paybonus.sources import store_company

WORKER = Path(__file__).parent.parent / "helpers" / "crash_worker.py"
KILLS = int(os.environ.get("PAYBONUS_CRASH_KILLS", "25"))


def state(db: Path):
    ledger = Ledger.open(db)
    try:
        ents = ledger.conn.execute(
            "SELECT id, employee, period_start, amount_cents, digest, event_id FROM entitlements ORDER BY id"
        ).fetchall()
        disp = ledger.conn.execute("SELECT event_id, scheme, status FROM dispatches ORDER BY 1, 2").fetchall()
        events = ledger.conn.execute("SELECT id, digest FROM events ORDER BY id").fetchall()
        rep = verify(ledger, load_plugins(builtins=(), extra=[FlatPlugin()], entry_points=False).schemes)
        assert rep.ok, [str(p) for p in rep.problems]
        return ents, disp, events
    finally:
        ledger.close()


def publish(db: Path, events: Path, step: bool = False) -> subprocess.Popen:
    """The publisher; with `step`, it waits for a line on its stdin after each event (crash_worker.py)."""
    # not measured by coverage: a process killed with SIGKILL never writes its data, and measuring slows it
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_PROCESS")}
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(db), str(events), *(["--step"] if step else [])],
        stdin=subprocess.PIPE if step else None,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.slow  # 25 kill points, about 20 s on 2 cores: part of `make test` and CI
def test_sigkill_at_25_random_points_then_republish_gives_the_uninterrupted_ledger(tmp_path):
    crash_run(tmp_path, KILLS)


def crash_run(tmp_path, kills):
    seed_db = tmp_path / "seed.db"
    ledger = Ledger.create(seed_db)
    store_company(
        ledger, make_company(employees=40, schemes_toml="[schemes.flat_bonus]\namount_cents = 12345\n").data
    )
    ledger.close()
    f = EventFactory()
    events = [f.period_closed(f"{y}-{m:02d}") for y in range(2017, 2026) for m in range(1, 13)]
    events_file = tmp_path / "events.jsonl"
    events_file.write_text("".join(e.to_json() + "\n" for e in events))

    ref = tmp_path / "ref.db"
    shutil.copy(seed_db, ref)
    assert publish(ref, events_file).wait(timeout=120) == 0
    expected = state(ref)
    assert len(expected[0]) > 1000 and len(expected[2]) == len(events)

    rng = random.Random(20251121)
    points = sorted(rng.sample(range(1, len(events)), kills))
    for k in points:
        db = tmp_path / f"kill-{k}.db"
        shutil.copy(seed_db, db)
        p = publish(db, events_file, step=True)
        assert p.stdout is not None and p.stdin is not None
        # let k events complete, then kill somewhere inside the next one: the publisher waits for a line after
        # each event, so it is never more than one event ahead of this loop, however slowly the loop runs
        for _ in range(k):
            assert p.stdout.readline() != "", "the publisher stopped before the kill point"
            p.stdin.write("\n")
            p.stdin.flush()
        rng_delay = rng.random() * 0.004
        if rng_delay:
            import time

            time.sleep(rng_delay)
        p.send_signal(signal.SIGKILL)
        assert p.wait(timeout=30) == -signal.SIGKILL, "the publisher had already finished: no crash tested"
        p.stdin.close()
        p.stdout.close()
        interrupted = Ledger.open(db)
        recorded = interrupted.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        interrupted.close()
        assert k <= recorded <= k + 1 and recorded < len(events), (k, recorded)
        assert publish(db, events_file).wait(timeout=120) == 0
        assert state(db) == expected, f"ledger differs after a kill after event {k}"
