"""Review of the red team of 2026-12-03 (branch redteam13): what its fixes refused or broke that worked before."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from helpers.hostile import attempt, cli
from paybonus.outputs import check_file


def test_check_file_does_not_block_on_a_pipe(tmp_path):
    """`check_file` reads the head of an existing output to spot a ledger or a key: opening a named pipe (or the
    /dev/stdout of a pipeline, `--out >(gzip > x.gz)`) to read it waited for ever for a writer."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    done = threading.Event()

    def check():
        check_file(fifo, "--out")
        done.set()

    t = threading.Thread(target=check, daemon=True)
    t.start()
    t.join(5)
    in_time = done.is_set()
    if t.is_alive():  # blocked in open(): a writer lets it go before the test ends
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        t.join(5)
    assert in_time, "check_file blocked on a named pipe"


def test_checkpoint_out_dev_stdout_into_a_pipe_is_written(work):
    """`audit checkpoint --out /dev/stdout | ...` (and `export --out /dev/stdout --force`) hung: check_file opened
    the pipe to read its first bytes, and no one ever wrote to it."""
    key = work.dir / "k.pem"
    assert cli("audit", "keygen", "--out", str(key))[0] == 0
    try:
        checkpoint = ("audit", "checkpoint", "--key", str(key), "--out", "/dev/stdout")
        run = subprocess.run(
            [sys.executable, "-m", "paybonus", "--db", str(work.db), *checkpoint],
            capture_output=True,
            timeout=30,
        )
    except subprocess.TimeoutExpired:
        raise AssertionError("audit checkpoint --out /dev/stdout into a pipe hung") from None
    assert run.returncode == 0, run.stderr
    assert b'"format": "paybonus-checkpoint/1"' in run.stdout


def _absences(work, rows: list[str]):
    p = work.company / "absences.csv"
    p.write_text(p.read_text(encoding="utf-8") + "".join(r + "\n" for r in rows), encoding="utf-8")


def test_an_absence_overlapping_an_earlier_row_not_next_to_it_is_refused(work):
    """The overlap check keeps each employee's rows of a kind sorted (a file of a row a day stayed quadratic:
    500 000 one-day rows loaded in 7.6 s instead of 3.6 s); rows out of order are still all compared."""
    _absences(
        work,
        [
            "E0003,strike,2025-03-10,2025-03-10",
            "E0003,strike,2025-01-10,2025-01-12",
            "E0003,strike,2025-02-01,2025-02-01",
            "E0003,strike,2025-01-05,2025-01-10",  # the row two lines up, not its neighbour in the file
        ],
    )
    line = attempt("absences out of order", work.fresh, "load", str(work.company))
    assert "absences.csv:18:" in line and "2025-01-05..2025-01-10 overlaps" in line
    assert "absences.csv:16 (2025-01-10..2025-01-12)" in line, line


def test_absences_of_one_kind_out_of_order_that_do_not_overlap_are_loaded(work):
    _absences(
        work,
        [
            "E0003,strike,2025-03-10,2025-03-10",
            "E0003,strike,2025-01-10,2025-01-12",
            "E0003,strike,2025-03-11,2025-03-11",
            "E0003,strike,2025-01-13,2025-03-09",
        ],
    )
    assert cli("--db", str(work.fresh), "load", str(work.company))[0] == 0


def test_a_contract_ending_9999_12_31_as_hr_exports_write_an_open_one_still_loads(work, tmp_path):
    """Many HR systems export a running contract's end as 9999-12-31 ("end of time"). It loaded and computed
    as a running contract (the sample's entitlements unchanged); the years check refused it."""
    p = work.company / "employees.csv"
    lines = p.read_text(encoding="utf-8").splitlines()
    opened = [i for i, line in enumerate(lines) if line.split(",")[3] == ""]
    assert len(opened) > 20
    for i in opened:
        cols = lines[i].split(",")
        cols[3] = "9999-12-31"
        lines[i] = ",".join(cols)
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = tmp_path / "far.db"
    assert cli("--db", str(db), "init")[0] == 0
    code, _, err = cli("--db", str(db), "load", str(work.company))
    assert code == 0, err
    assert cli("--db", str(db), "publish", str(work.company / "events.jsonl"))[0] == 0
    listed = [cli("--db", str(d), "entitlements", "--format", "csv")[1] for d in (db, work.db)]
    assert listed[0] == listed[1]
