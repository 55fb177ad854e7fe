"""`paybonus export` streams its rows: the same bytes as the export built whole, `--out` written to a private
temporary file renamed over it once complete, and a peak memory that does not grow with the number of rows."""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from datetime import UTC, date, datetime

import pytest
from helpers.cli import run, run_here, sample_copy
from paybonus import EventBus, Ledger, load_plugins
from paybonus.app import Paybonus
from paybonus.bench import _results
from paybonus.cli import main
from paybonus.cli.base import private_file
from paybonus.cli.output import _machine
from paybonus.errors import UserError
from paybonus.events import canonical_json
from paybonus.export import COLUMNS
from paybonus.fixtures.generator import SAMPLE_SCHEMES, generate
from paybonus.sources import store_company

AS_OF = "2026-09-01"
FORMATS = ("csv", "tsv", "json", "jsonl")


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """The sample company (with its salary-type schemes) loaded and its year published, once for the module."""
    cwd = tmp_path_factory.mktemp("published")
    company = sample_copy(cwd / "durand")
    assert run("init", cwd=cwd).returncode == 0
    assert run("load", str(company), cwd=cwd).returncode == 0
    r = run("publish", str(company / "events.jsonl"), cwd=cwd)
    assert r.returncode == 0, r.stderr
    return cwd


@pytest.fixture
def world(published, tmp_path):
    shutil.copy(published / "paybonus.db", tmp_path / "paybonus.db")
    return tmp_path


def whole(rows, fmt):
    """The export as `paybonus export` printed it before it streamed: the whole text built at once."""
    if fmt == "json":
        return (
            "["
            + ",\n ".join(json.dumps({f: r.get(f) for f in COLUMNS}, ensure_ascii=False) for r in rows)
            + "]\n"
        )
    if fmt == "jsonl":
        return "".join(json.dumps({f: r.get(f) for f in COLUMNS}, ensure_ascii=False) + "\n" for r in rows)
    buf = io.StringIO()
    w = csv.writer(buf, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n")
    w.writerow(COLUMNS)
    w.writerows([[_machine(r.get(f)) for f in COLUMNS] for r in rows])
    return buf.getvalue()


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_streamed_export_has_the_bytes_of_the_whole_one(world, fmt):
    with Paybonus.open(world / "paybonus.db", host=load_plugins(entry_points=False)) as app:
        rows = app.export(date.fromisoformat(AS_OF))
        empty = app.export(date.fromisoformat(AS_OF), payroll_month="2031-01")
    assert len(rows) > 100 and not empty
    assert {r["scheme"] for r in rows} >= {"interessement", "prime_nao"}
    printed = run_here("export", "--as-of", AS_OF, "--format", fmt, cwd=world)
    assert printed.returncode == 0 and printed.stdout == whole(rows, fmt)
    nothing = run_here("export", "--as-of", AS_OF, "--format", fmt, "--payroll-month", "2031-01", cwd=world)
    assert nothing.stdout == whole([], fmt)  # a header only, or []
    target = world / f"payroll.{fmt}"
    written = run_here("export", "--as-of", AS_OF, "--format", fmt, "--out", str(target), cwd=world)
    assert written.stdout == f"{len(rows)} rows written to {target}\n"
    assert target.read_bytes() == whole(rows, fmt).encode()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and not leftovers(world)


def test_a_reader_that_stops_early_gets_no_traceback(world):
    # `paybonus export | head`: the rows are read while written, and the reader goes away midway (the export, of
    # about 1 MB, fills the pipe long before its last row is read): the ledger's cursor is closed before the
    # ledger, no "Exception ignored" at exit
    with_copies(world / "paybonus.db", 7)
    p = subprocess.Popen(
        [sys.executable, "-m", "paybonus", "export", "--as-of", AS_OF, "--format", "json"],
        cwd=world,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert p.stdout is not None and p.stdout.readline().startswith(b'[{"company"')
    p.stdout.close()
    _, err = p.communicate(timeout=120)
    assert p.returncode == 1 and err == b"", err.decode()


def test_force_replaces_the_file_whole_and_makes_it_private(world):
    target = world / "payroll.csv"
    target.write_text("last month's file\n")
    target.chmod(0o644)
    r = run_here("export", "--as-of", AS_OF, "--out", str(target), "--force", cwd=world)
    assert r.returncode == 0 and target.read_text().startswith("company,employee")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and not leftovers(world)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user takes root")
def test_force_keeps_the_owner_of_the_file_it_replaces(world):
    # root's cron replaces the export the payroll's own account picks up: it stays that account's file (the
    # write in place kept it; a temporary file renamed over it would be root's, 0600, unreadable by its reader)
    target = world / "payroll.csv"
    target.write_text("last month's file\n")
    os.chown(target, 65534, 65534)
    r = run_here("export", "--as-of", AS_OF, "--out", str(target), "--force", cwd=world)
    assert r.returncode == 0 and target.read_text().startswith("company,employee"), r.stderr
    st = target.stat()
    assert (st.st_uid, st.st_gid) == (65534, 65534) and stat.S_IMODE(st.st_mode) == 0o600


def test_a_long_file_name_the_system_accepts_is_written(tmp_path):
    # 80 euro signs: 244 bytes, a name the file system takes; the temporary file's name is cut to fit beside it
    target = tmp_path / ("€" * 80 + ".csv")
    with private_file(target) as f:
        f.write("company\n")
    assert target.read_text() == "company\n" and not leftovers(tmp_path)


def test_out_to_a_device_or_a_pipe_writes_to_it_and_replaces_nothing(world):
    # `--out /dev/stdout`, `--out >(gzip > x.gz)`: no regular file to rename over; the device stays a device (a
    # temporary file renamed over /dev/null, as root, would have replaced it)
    r = run_here("export", "--as-of", AS_OF, "--out", "/dev/null", "--force", cwd=world)
    assert r.returncode == 0 and r.stdout.endswith("rows written to /dev/null\n"), r.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode) and not [p for p in os.listdir("/dev") if ".part" in p]
    fifo = world / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    try:
        r = run_here("export", "--as-of", AS_OF, "--out", str(fifo), "--force", cwd=world)
        text = reader.communicate(timeout=60)[0].decode()
    finally:
        reader.kill()  # a reader left waiting when the export failed before opening the pipe
        reader.wait()
    assert r.returncode == 0 and text.startswith("company,employee") and stat.S_ISFIFO(fifo.stat().st_mode)
    assert not leftovers(world)


def failing_after(n, exc):
    """`paybonus.export.rows` that yields `n` rows, then raises `exc` (or, for "SIGTERM", is sent it)."""
    from paybonus import export

    real = export.rows

    def rows(*args, **kwargs):
        for i, row in enumerate(real(*args, **kwargs)):
            if i == n:
                if exc == "SIGTERM":
                    os.kill(os.getpid(), signal.SIGTERM)
                    time.sleep(5)  # the handler runs before this ends
                raise exc
            yield row

    return rows


@pytest.mark.parametrize(
    ("exc", "new_message", "old_message"),
    [
        (UserError("entitlement X", "a bad ledger row"),) + ("error: entitlement X: a bad ledger row",) * 2,
        (
            KeyboardInterrupt(),
            "interrupted; nothing was written",
            "interrupted; the file there is left as it was",
        ),
        ("SIGTERM", "interrupted; nothing was written", "interrupted; the file there is left as it was"),
    ],
)
@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_an_export_that_fails_midway_leaves_no_file_and_the_old_one_untouched(
    world, monkeypatch, exc, new_message, old_message, fmt
):
    monkeypatch.setattr("paybonus.export.rows", failing_after(5, exc))
    handler = signal.getsignal(signal.SIGTERM)  # SIG_DFL, or coverage's own when the suite runs under it
    new, old = world / "new.csv", world / "old.csv"
    old.write_text("the payroll's own file\n")
    # a few dozen rows are fewer than a write: make each row its own write, so that some were written
    monkeypatch.setattr("paybonus.cli.output.CHUNK_CHARS", 1)
    for target, force, message in ((new, (), new_message), (old, ("--force",), old_message)):
        r = run_here("export", "--as-of", AS_OF, "--format", fmt, "--out", str(target), *force, cwd=world)
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and message in r.stderr, r.stderr
        assert r.stderr.startswith("error: ") and "written to" not in r.stdout
    assert not new.exists() and old.read_text() == "the payroll's own file\n"
    assert not leftovers(world)
    assert signal.getsignal(signal.SIGTERM) is handler  # restored


def test_an_unexpected_error_midway_also_removes_the_temporary_file(world, monkeypatch):
    monkeypatch.setattr("paybonus.export.rows", failing_after(3, RuntimeError("a bug")))
    monkeypatch.chdir(world)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["export", "--as-of", AS_OF, "--out", "payroll.csv"])
    assert not (world / "payroll.csv").exists() and not leftovers(world)


def test_a_full_disk_is_one_line_naming_the_file_and_leaves_the_old_one(tmp_path):
    target = tmp_path / "payroll.csv"
    target.write_text("old\n")
    with pytest.raises(UserError, match="No space left on device") as caught, private_file(target) as f:
        f.write("half")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert str(target) in str(caught.value)
    assert target.read_text() == "old\n" and not leftovers(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes in any folder")
def test_out_in_a_folder_that_cannot_be_written_is_refused_before_any_work(world):
    # the file is written beside its target, then renamed: a writable file in a read-only folder is refused
    folder = world / "ro"
    folder.mkdir()
    target = folder / "payroll.csv"
    target.write_text("old\n")
    folder.chmod(0o500)
    try:
        r = run_here("export", "--out", str(target), "--force", cwd=world)
    finally:
        folder.chmod(0o700)
    assert r.returncode == 2 and "is not writable" in r.stderr and target.read_text() == "old\n"


# -- memory ---------------------------------------------------------------------------------------------------


def generated_ledger(path, employees):
    """A ledger of one generated company (every built-in scheme) with its events published."""
    g = generate(
        "GEN",
        employees=employees,
        seed=7,
        schemes_toml=SAMPLE_SCHEMES,
        salary_schemes=True,
        results=_results(employees),
        csv_rows=False,
    )
    ledger = Ledger.create(path)
    store_company(ledger, g.data)
    b = EventBus(ledger, load_plugins(entry_points=False), clock=lambda: datetime(2027, 1, 1, tzinfo=UTC))
    lines = [canonical_json(e) for e in sorted(g.events, key=lambda e: e["occurred_at"])]
    b.publish_all(b.admit(b.host.event_types.read_jsonl("gen", lines)))
    b.close()
    ledger.close()


def with_copies(path, copies):
    """Each entitlement of the ledger at `path` recorded `copies` more times under new ids (the same events, the
    same dispatches: only the rows to export grow)."""
    conn = sqlite3.connect(path)
    columns = [r[1] for r in conn.execute("PRAGMA table_info(entitlements)") if r[1] not in ("seq", "id")]
    names = ", ".join(columns)
    with conn:
        for k in range(copies):
            conn.execute(
                f"INSERT INTO entitlements (id, {names}) SELECT id || '-copy{k}', {names} FROM entitlements "
                "WHERE id NOT LIKE '%-copy%' ORDER BY seq"
            )
    conn.close()


def test_the_exports_peak_memory_does_not_grow_with_its_rows(tmp_path, monkeypatch):
    """Built whole, the export held every row and its text: four times the rows, about four times the peak
    (measured with tracemalloc: 1.8 MB for 510 rows, 6.4 MB for 2 040). Streamed, the peak is that of one row and what the ledger's
    events and dispatches take (`known` months, configurations in force), the same for both."""
    import tracemalloc

    monkeypatch.chdir(tmp_path)
    generated_ledger(tmp_path / "n.db", 150)  # 510 rows
    shutil.copy(tmp_path / "n.db", tmp_path / "4n.db")
    with_copies(tmp_path / "n.db", 1)  # 1 020 rows: more than the text written at once (`CHUNK_CHARS`)
    with_copies(tmp_path / "4n.db", 7)  # 4 080 rows

    def peak(name, fmt):  # tracemalloc peak while `name`.db is exported, and the lines written
        out = tmp_path / f"{name}.{fmt}"
        tracemalloc.start()
        try:
            args = [
                "--db",
                f"{name}.db",
                "export",
                "--as-of",
                "2027-01-01",
                "--format",
                fmt,
                "--out",
                str(out),
                "--force",
            ]
            assert main(args) == 0
            top = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        return top, len(out.read_text().splitlines())

    # a first run imports what an export needs, and a process's first read of a file leaves a few hundred
    # bytes a page with sqlite3, however it is read: not counted
    peak("n", "csv"), peak("4n", "csv")
    for fmt in ("csv", "json"):
        (small, n), (large, four_n) = peak("n", fmt), peak("4n", fmt)
        assert four_n > 3.9 * n and n > 1000  # lines: a row each (and a header)
        assert large < small * 1.25, (fmt, small, large)


def test_a_half_read_export_rows_holds_the_snapshot_until_closed(world):
    # docs/library.md: `export_rows` stopped early holds the read snapshot (no checkpoint can empty the WAL) until
    # it is closed, which `contextlib.closing` does
    with Paybonus.open(world / "paybonus.db", host=load_plugins(entry_points=False)) as app:
        rows = app.export_rows(date.fromisoformat(AS_OF))
        assert next(rows)["company"]
        other = sqlite3.connect(world / "paybonus.db")
        try:
            other.execute("CREATE TABLE scratch (x)")
            other.commit()
            busy, _, _ = other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            assert busy == 1
            rows.close()
            assert other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone() == (0, 0, 0)
        finally:
            other.close()
