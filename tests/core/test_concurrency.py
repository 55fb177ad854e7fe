"""Two publishers at once on one ledger: the same ledger as one publisher, and never 'database is locked'."""

import subprocess
import sys

import pytest
from helpers.cli import run, run_here
from helpers.overlapping import overlapping_year
from paybonus import Ledger


def state(db):
    """What the ledger owes, net of corrections (publishers may interleave events differently; a scheme then
    records a principal and a correction where one publisher recorded a single principal), its events and the
    outcome of every dispatch."""
    ledger = Ledger.open(db)
    try:
        ents = ledger.conn.execute(
            "SELECT company, scheme, employee, period_start, period_end, SUM(amount_cents), MIN(due_date) "
            "FROM entitlements WHERE kind != 'interest' GROUP BY 1, 2, 3, 4, 5 HAVING SUM(amount_cents) != 0 ORDER BY 1, 2, 3, 4"
        ).fetchall()
        events = ledger.conn.execute("SELECT id, digest FROM events ORDER BY id").fetchall()
        disp = ledger.conn.execute("SELECT event_id, scheme, status FROM dispatches ORDER BY 1, 2").fetchall()
        return ents, events, disp
    finally:
        ledger.close()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_processes_publishing_overlapping_files_give_the_one_process_ledger(tmp_path, backend, request):
    """On PostgreSQL the two publishers write the same companies at once: the advisory lock of each company and
    the version check serialise them."""
    overlapping_year(tmp_path, employees=60)

    def fresh(db):  # set-up and the one-process reference in this process: the two publishers are the test
        assert run_here("--db", db, "init", cwd=tmp_path).returncode == 0
        for name in ("ALPHA", "BETA"):
            assert run_here("--db", db, "load", name, cwd=tmp_path).returncode == 0

    fresh("one.db")
    assert run_here("--db", "one.db", "publish", "all.jsonl", cwd=tmp_path).returncode == 0
    expected = state(tmp_path / "one.db")
    assert len(expected[0]) > 100

    for attempt in range(2 if backend == "sqlite" else 1):
        db = f"two-{attempt}.db" if backend == "sqlite" else request.getfixturevalue("pg_url")
        fresh(db)
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "paybonus", "--db", db, "publish", f],
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for f in ("a.jsonl", "b.jsonl")
        ]
        outs = [p.communicate(timeout=300) for p in procs]
        for p, (_, err) in zip(procs, outs, strict=True):
            assert p.returncode == 0, err
            assert "locked" not in err.lower() and "Traceback" not in err
        assert state(tmp_path / db if backend == "sqlite" else db) == expected
        assert run("--db", db, "audit", "verify", cwd=tmp_path).returncode == 0
