"""Hostile input, run in-process: one line on stderr, exit 2 and an unchanged ledger, or the test fails.

Every case goes through `attempt`, which keeps a tally (`TALLY`): how many hostile inputs were tried and how
many ended otherwise. `tests/hardening/conftest.py` prints it at the end of the run.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import sqlite3
import traceback
from pathlib import Path

import structlog
from paybonus.cli import main

# per kind of case: [tried, ended otherwise]. "input": hostile input, expected to end with one line, exit 2 and
# the ledger unchanged; "plugin": a misbehaving plugin, expected to end as a named dead letter or warning (exit
# 1 or 0, the command completes); "fault": a full disk, a lock, a lost race, expected one line and a state that
# publish and retry recover (exit 1 where something was written)
TALLY: dict[str, list[int]] = {"input": [0, 0], "plugin": [0, 0], "fault": [0, 0], "fuzz": [0, 0]}
ACCEPTED = {"fuzz": 0}  # fuzzed inputs that were valid after all: exit 0, and nothing failed later
OTHER: list[str] = []  # a line per case that did not end as expected


def cli(*args: str, stdin: str | None = None) -> tuple[int | str, str, str]:
    """Run `paybonus` in this process: (exit code, stdout, stderr). An exception escaping `main` is reported
    as the code "traceback" with the traceback on stderr (what a user would have seen)."""
    saved = structlog.get_config()
    err, out = io.StringIO(), io.StringIO()
    code: int | str
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            if stdin is not None:
                import sys

                old, sys.stdin = (
                    sys.stdin,
                    io.TextIOWrapper(io.BytesIO(stdin.encode("utf-8")), encoding="utf-8"),
                )
                try:
                    code = main(list(args))
                finally:
                    sys.stdin = old
            else:
                code = main(list(args))
    except BaseException:  # a test harness: whatever escapes is the finding
        code = "traceback"
        err.write(traceback.format_exc())
    finally:
        structlog.configure(**saved)
    return code, out.getvalue(), err.getvalue()


def ledger_digest(db: Path) -> str:
    """The ledger's content (every table, row by row), or "absent": a file copy may differ in its pages."""
    if not Path(db).exists():
        return "absent"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        h = hashlib.sha256()
        for line in con.iterdump():
            h.update(line.encode("utf-8", "surrogatepass"))
        return h.hexdigest()
    except sqlite3.DatabaseError:
        return hashlib.sha256(Path(db).read_bytes()).hexdigest()
    finally:
        con.close()


LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\S+ \[(debug|info|warning|error)\s*\] ")  # structured logs, for ops


def one_line(err: str) -> bool:
    """One `error:` line for the user (warnings and the structured log lines for ops aside)."""
    lines = [
        line
        for line in err.splitlines()
        if line.strip() and not line.startswith("warning: ") and not LOG_LINE.match(line)
    ]
    return len(lines) == 1 and lines[0].startswith("error: ")


def attempt(label: str, db: Path, *args: str, stdin: str | None = None, expect: int = 2) -> str:
    """Run one hostile case and check it is refused cleanly: exit `expect` (2), one `error:` line, the ledger
    unchanged. Returns the error line."""
    before = ledger_digest(db)
    code, _out, err = cli("--db", str(db), *args, stdin=stdin)
    clean = code == expect and one_line(err) and "Traceback" not in err and ledger_digest(db) == before
    count(label, clean, f"exit {code}: {err.strip()[-300:]}")
    assert code == expect, f"{label}: exit {code}\n{err}"
    assert "Traceback" not in err, err
    assert one_line(err), f"{label}: not one line:\n{err}"
    assert ledger_digest(db) == before, f"{label}: the ledger changed"
    return next(line for line in err.splitlines() if line.startswith("error: "))


def count(label: str, ok: bool, detail: str = "", kind: str = "input") -> None:
    """Tally one case (`attempt` does it for hostile input; plugin and fault tests call it with their kind)."""
    TALLY[kind][0] += 1
    if not ok:
        TALLY[kind][1] += 1
        OTHER.append(f"{kind}: {label}: {detail}")


def fuzz(label: str, db: Path, *args: str) -> int:
    """One fuzzed case: refused cleanly (one line, exit 2, ledger unchanged) or accepted (exit 0) with no dispatch
    failing afterwards (a value accepted at the door must not fail at compute time). Returns the exit code."""
    before = ledger_digest(db)
    code, _out, err = cli("--db", str(db), *args)
    ok = code in (0, 2) and "Traceback" not in err
    if code == 2:
        ok = ok and one_line(err) and ledger_digest(db) == before
    elif code == 0:
        ACCEPTED["fuzz"] += 1
        if args and args[0] == "publish":
            ok = ok and cli("--db", str(db), "failures", "--check")[0] == 0
    count(label, ok, f"exit {code}: {err.strip()[-300:]}", kind="fuzz")
    assert ok, f"{label}: exit {code}\n{err}"
    return code
