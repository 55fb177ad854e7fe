"""The re-check of the red team of 2026-12-01: bounded input files, an empty ledger name, concurrent inits,
--nl against --format, project show, --payroll-month's years, options that need another, an unknown --employee."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from helpers.hostile import attempt, cli
from paybonus import parsing


def test_a_stream_is_read_at_most_to_its_limit(tmp_path):
    with pytest.raises(parsing.UserError, match="larger than 64 KiB"):
        parsing.read_bounded("/dev/zero", parsing.MAX_KEY_BYTES)


def test_a_regular_file_over_its_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    big = tmp_path / "big"
    with open(big, "wb") as f:
        f.truncate(parsing.MAX_FILE_BYTES + 1)  # sparse
    monkeypatch.setattr("builtins.open", _no_read(open))
    with pytest.raises(parsing.UserError, match="larger than 64 MiB"):
        parsing.read_bounded(big, parsing.MAX_FILE_BYTES)


def _no_read(real):
    class NoRead:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def fileno(self):
            return self.f.fileno()

        def read(self, n=-1):
            raise AssertionError("read before the size was checked")

    return lambda *a, **k: NoRead(real(*a, **k))


def test_a_long_line_is_refused_while_reading(tmp_path):
    p = tmp_path / "e.jsonl"
    p.write_bytes(b'{"a": 1}\n' + b"x" * (parsing.MAX_LINE_BYTES + 10))
    with pytest.raises(parsing.UserError, match=r"e.jsonl:2: longer than 16 MiB"):
        parsing.read_events_text(p)


def test_events_text_keeps_text_mode_line_ends(tmp_path):
    p = tmp_path / "e.jsonl"
    p.write_bytes(b"a\r\nb\rc\n")
    assert parsing.read_events_text(p) == "a\nb\nc\n"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("notice", "verify", "/dev/zero"), "/dev/zero: larger than 64 MiB"),
        (("publish", "/dev/zero"), "/dev/zero:1: longer than 16 MiB"),
        (("--params", "/dev/zero", "entitlements"), "/dev/zero: larger than 64 MiB"),
        (("audit", "verify", "--key", "/dev/zero"), "/dev/zero: larger than 64 KiB"),
        (("project", "check", "/dev/zero"), "/dev/zero: larger than 64 MiB"),
    ],
)
def test_endless_inputs_are_one_line(work, args, fragment):
    # --params is a global option: it goes before the command
    before = args[:2] if args[0] == "--params" else ()
    rest = args[2:] if args[0] == "--params" else args
    line = attempt(" ".join(args), work.db, *before, *rest)
    assert fragment in line


def test_dsn_of_an_endless_file(work):
    out = work.dir / "z.jsonl"
    line = attempt("dsn /dev/zero", work.db, "dsn", "/dev/zero", "--company", "DURAND", "--events", str(out))
    assert "/dev/zero: larger than 64 MiB" in line
    assert not out.exists()


def test_an_events_file_over_2_gib_is_refused_by_its_size(work):
    big = work.dir / "big.jsonl"
    with open(big, "wb") as f:
        f.truncate(parsing.MAX_EVENTS_BYTES + 1)
    line = attempt("publish big", work.db, "publish", str(big))
    assert "larger than 2 GiB" in line


def test_memory_error_is_one_line_exit_1(work, monkeypatch):
    def boom(*a, **k):
        raise MemoryError

    monkeypatch.setattr("paybonus.cli.ledger.read_lines_text", boom)
    line = attempt("MemoryError", work.db, "publish", "x.jsonl", expect=1)
    assert "out of memory" in line


@pytest.mark.parametrize("how", ["env", "option"])
def test_an_empty_ledger_name_is_refused(tmp_path, monkeypatch, how):
    monkeypatch.chdir(tmp_path)
    if how == "env":
        monkeypatch.setenv("PAYBONUS_DB", "")
        code, _out, err = cli("init")
    else:
        code, _out, err = cli("--db", "", "init")
    assert code == 2, err
    assert ("PAYBONUS_DB" if how == "env" else "--db") in err and "empty" in err
    assert os.listdir(tmp_path) == []


def test_worker_db_empty_is_refused(work):
    line = attempt("worker --db ''", work.db, "worker", "--source", "nats://127.0.0.1:1", "--db", "")
    assert "--db: the ledger name is empty" in line


def test_concurrent_inits_of_a_new_file(tmp_path):
    db = tmp_path / "ci.db"
    for _ in range(3):
        for f in tmp_path.glob("ci.db*"):
            f.unlink()
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "paybonus", "--db", str(db), "init"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        results = [(p.wait(60), *p.communicate()) for p in procs]
        for code, out, err in results:
            assert code == 0, err
            assert "ledger created" in out or "ledger already up to date" in out
    assert cli("--db", str(db), "audit", "verify")[0] == 0


@pytest.mark.parametrize("command", ["entitlements", "export", "failures", "deadlines"])
def test_nl_contradicting_format_is_refused(work, command):
    line = attempt(f"{command} --nl --format csv", work.db, command, "--nl", "--format", "csv")
    assert "--nl" in line and "--format csv" in line


def test_nl_with_format_jsonl_or_alone(work):
    for args in (("--nl",), ("--nl", "--format", "jsonl")):
        code, out, _err = cli("--db", str(work.db), "entitlements", *args)
        assert code == 0 and out.startswith("{")


def test_project_show_unknown_project_or_bad_period(work):
    line = attempt("project show NOPE", work.db, "project", "show", "NOPE")
    assert "no statement of project NOPE" in line
    line = attempt("project show --period", work.db, "project", "show", "ATLAS", "--period", "2025-99")
    assert "--period" in line
    line = attempt("project show --period 0001", work.db, "project", "show", "ATLAS", "--period", "0001")
    assert "outside the years 1900 to 2199" in line


def test_payroll_month_within_the_years(work):
    line = attempt("export --payroll-month 0000-01", work.db, "export", "--payroll-month", "0000-01")
    assert "--payroll-month: 0000-01 is outside the years 1900 to 2199" in line


def test_options_that_need_another(work):
    events = str(work.company / "events.jsonl")
    line = attempt("publish --per-message", work.db, "publish", events, "--per-message", "5")
    assert "--per-message: only applies with --to" in line
    line = attempt("export --force", work.db, "export", "--force")
    assert "--force: only applies with --out" in line


def test_unknown_employee_is_refused(work):
    line = attempt("--employee NOPE", work.db, "entitlements", "--employee", "NOPE")
    assert "--employee: no employee 'NOPE'" in line
    line = attempt(
        "--employee of another company", work.db, "entitlements", "--employee", "NOPE", "--company", "DURAND"
    )
    assert "of company DURAND" in line
    code, out, _ = cli("--db", str(work.db), "entitlements", "--employee", "E0001", "--format", "json")
    assert code == 0 and "E0001" in out
