"""The red team of 2026-12-01 (items 10, 11, 13-16, 19-21, 24-28 of /work/notes/redteam-dec01.md): each bad
input, option or environment variable ends with one line naming where and what, exit 2, the ledger untouched."""

from __future__ import annotations

import re
import sqlite3

import pytest
from conftest import shared
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from helpers.hostile import attempt, cli

STATEMENTS = ("statements", "--company", "DURAND", "--period", "2025", "--channel", "email")


@pytest.mark.parametrize(
    ("issued_on", "fragment"),
    [
        ("9999-12-31", "outside the years 1900 to 2199"),  # was OverflowError
        ("0001-01-01", "outside the years 1900 to 2199"),  # was LookupError
        ("2020-01-01", "not after the period 2025-01-01..2025-12-31 ends"),
        ("2025-12-31", "not after the period"),
        ("２０２６-04-01", "expected a date YYYY-MM-DD"),
    ],
)
def test_statements_issue_date_out_of_range(work, issued_on, fragment):
    out = work.dir / "st"
    line = attempt(
        f"--issued-on {issued_on}", work.db, *STATEMENTS, "--out", str(out), "--issued-on", issued_on
    )
    assert "--issued-on" in line and fragment in line
    assert not out.exists()


@pytest.mark.parametrize("period", ["２０２５", "٢٠٢٥", "２０２５-01", "0001", "9999"])
def test_periods_in_ascii_digits_within_the_years(work, period):
    line = attempt(
        f"--period {period}",
        work.db,
        "statements",
        "--company",
        "DURAND",
        "--period",
        period,
        "--channel",
        "email",
        "--issued-on",
        "2026-04-01",
        "--out",
        str(work.dir / "st"),
    )
    assert "--period" in line


@pytest.mark.parametrize(
    "args",
    [
        ("deadlines", "--as-of", "9999-12-31"),
        ("deadlines", "--as-of", "0001-01-01"),
        ("deadlines", "--within", "99999999"),
        ("export", "--as-of", "9999-12-31"),
        ("export", "--payroll-month", "2026-13"),
        ("export", "--payroll-month", "2026-00"),
        ("export", "--payroll-month", "２０２６-01"),
    ],
)
def test_date_and_month_options_out_of_range(work, args):
    line = attempt(" ".join(args), work.db, *args)
    assert args[1] in line


def test_a_date_before_the_legal_parameters_is_one_line(work):
    line = attempt("deadlines 1950", work.db, "deadlines", "--as-of", "1950-01-01")
    assert "1950-01-01" in line and "--params" in line


def dsn_file():
    return str(shared("data", "dsn", "sample_dsn_P25V01.dsn"))


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (("--company", ""), "--company: '' is not a company id"),
        (("--company", "a b"), "--company"),
        (("--company", "D", "--events", "{d}/x", "--absences", "{d}/x"), "is also --events's file"),
        (("--company", "D", "--events", "{d}"), "--events"),
        (("--company", "D", "--absences", "{d}/nope/x.csv"), "is not a directory"),
        (("--company", "D", "--company-dir", "{d}/file.json"), "--company-dir"),
        (("--company", "D", "--events", "{d}/employees.csv", "--company-dir", "{d}"), "is also --events"),
    ],
)
def test_dsn_outputs_checked_before_anything_is_written(work, extra, fragment):
    (work.dir / "file.json").write_text("{}")

    def files():
        return sorted(p.name for p in work.dir.iterdir() if not p.name.startswith("ledger.db"))

    before = files()
    args = [a.format(d=work.dir) for a in extra]
    line = attempt(f"dsn {extra}", work.db, "dsn", dsn_file(), *args)
    assert fragment in line
    assert files() == before


def test_dsn_on_a_full_device_names_the_file_and_what_was_written(work):
    code, _out, err = cli(
        "dsn", dsn_file(), "--company", "D", "--events", str(work.dir / "ev.jsonl"), "--absences", "/dev/full",
        "--force",
    )  # fmt: skip
    assert code == 2 and err.count("\n") == 1, err
    assert "--absences /dev/full: cannot write (No space left on device)" in err and "ev.jsonl" in err


@pytest.mark.parametrize(
    "args",
    [
        ("bench", "--workers", "0"),
        ("bench", "--workers", "-1"),
        ("bench", "--workers", "100000"),
        ("bench", "--sizes", ""),
        ("bench", "--sizes", "0"),
        ("bench", "--sizes", "-5"),
        ("bench", "--sizes", "99999999999999"),
        ("bench", "--sizes", "１０"),
        ("bench", "--quick", "--out", "/nonexistent/x.json"),  # before the bench runs (it would take seconds)
        ("bench", "--quick", "--out", "{d}"),
    ],
)
def test_bench_ranges_and_output_checked_first(work, args):
    args = tuple(a.format(d=work.dir) for a in args)
    line = attempt(" ".join(args), work.db, *args)
    assert args[-2] in line


@pytest.mark.parametrize(
    "args",
    [
        ("audit", "keygen", "--out", "/nonexistent/k.pem"),
        ("audit", "keygen", "--out", "{d}"),
        ("audit", "checkpoint", "--key", "{key}", "--out", "{d}"),
        ("export", "--out", "/nonexistent/x.csv"),
        ("statements", *STATEMENTS[1:], "--issued-on", "2026-04-01", "--out", "{d}/st", "--events", "{d}"),
        ("statements", *STATEMENTS[1:], "--issued-on", "2026-04-01", "--out", "{d}/file.json/st"),
    ],
)
def test_bad_output_paths_are_exit_2_naming_the_path(work, args):
    (work.dir / "file.json").write_text("{}")
    key = work.dir / "k.pem"
    assert cli("audit", "keygen", "--out", str(key))[0] == 0
    args = tuple(a.format(d=work.dir, key=key) for a in args)
    line = attempt(" ".join(args), work.db, *args)
    assert "--out" in line or "--events" in line
    assert not (work.dir / "st").exists()


def test_project_measure_output_a_directory(work):
    from paybonus.fixtures import sample_dir

    project = sample_dir().parent / "project_sample" / "project.toml"
    if not project.exists():
        pytest.skip("no project sample")
    line = attempt(
        "project measure -o dir", work.db, "project", "measure", str(project), "--period", "2025", "-o",
        str(work.dir),
    )  # fmt: skip
    assert "--output" in line and str(work.dir) in line


@pytest.mark.parametrize(
    "key",
    ["garbage", "directory", "missing", "rsa", "public-garbage", "public-directory", "env-garbage"],
)
def test_audit_verify_refuses_a_bad_key_without_a_checkpoint(work, key, monkeypatch):
    garbage = work.file("g.pem", "garbage\n")
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    rsa_file = work.file("rsa.pem", pem)
    args = {
        "garbage": ("--key", str(garbage)),
        "directory": ("--key", str(work.dir)),
        "missing": ("--key", str(work.dir / "none.pem")),
        "rsa": ("--key", str(rsa_file)),
        "public-garbage": ("--public-key", "!!!notbase64"),
        "public-directory": ("--public-key", str(work.dir)),
        "env-garbage": (),
    }[key]
    if key == "env-garbage":
        monkeypatch.setenv("PAYBONUS_SIGNING_KEY", str(garbage))
    attempt(f"audit verify {key}", work.db, "audit", "verify", *args)


@pytest.mark.parametrize(
    ("args", "start"),
    [
        (("migrate", "nope.db", "postgresql://x/y"), "error: migrate SOURCE: file 'nope.db' does not exist"),
        (("export", "--out", "{d}"), "error: export --out: file"),
        (
            ("publish", "--per-message", "0", "x.jsonl"),
            "error: publish --per-message: 0: a whole number 1..10000",
        ),
        (("project", "show", "--format", "xml", "P"), "error: project show --format: 'xml' is not one of"),
        (("deadlines", "2026-02-31"), "error: deadlines: got unexpected extra argument (2026-02-31)"),
        (("--log-level", "x", "init"), "error: --log-level: 'x' is not one of"),
    ],
)
def test_click_usage_errors_are_one_line(work, args, start):
    args = tuple(a.format(d=work.dir) for a in args)
    line = attempt(" ".join(args), work.db, *args)
    assert line.startswith(start), line
    assert re.search(r"\(see paybonus [a-z ]*-h\)$", line), line


def test_init_refuses_a_sqlite_database_that_is_not_a_ledger(tmp_path):
    db = tmp_path / "n2.db"
    con = sqlite3.connect(db)
    con.execute("create table x(a)")
    con.commit()
    con.close()
    line = attempt("init on a foreign database", db, "init")
    assert "n2.db" in line and "not a paybonus ledger" in line
    con = sqlite3.connect(db)
    assert [r[0] for r in con.execute("select name from sqlite_master")] == ["x"]
    con.close()


def test_init_refuses_a_postgresql_schema_holding_other_tables(pg_url):
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute("CREATE TABLE x (a int)")
    code, _out, err = cli("--db", pg_url, "init")
    assert code == 2 and err.count("\n") == 1 and "holds other tables (x)" in err, err
    with psycopg.connect(pg_url, autocommit=True) as c:
        tables = [
            r[0] for r in c.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        ]
    assert tables == ["x"]


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("PAYBONUS_PLUGINS", "nosuch", "PAYBONUS_PLUGINS: no plugin named 'nosuch'"),
        ("PAYBONUS_PLUGINS", "interessement,salry", "'salry'"),
        ("PAYBONUS_DISPATCH_TIMEOUT", "abc", "PAYBONUS_DISPATCH_TIMEOUT"),
        ("PAYBONUS_DISPATCH_TIMEOUT", "-1", "PAYBONUS_DISPATCH_TIMEOUT"),
        ("PAYBONUS_DISPATCH_TIMEOUT", "nan", "PAYBONUS_DISPATCH_TIMEOUT"),
        ("PAYBONUS_DISPATCH_TIMEOUT", "inf", "PAYBONUS_DISPATCH_TIMEOUT"),
        ("PAYBONUS_DISPATCH_TIMEOUT", "1e12", "PAYBONUS_DISPATCH_TIMEOUT"),
        ("PAYBONUS_SYNCHRONOUS", "BOGUS", "PAYBONUS_SYNCHRONOUS: expected NORMAL, FULL or EXTRA"),
    ],
)
def test_environment_settings_refused_when_wrong(work, monkeypatch, name, value, fragment):
    monkeypatch.setenv(name, value)
    line = attempt(f"{name}={value}", work.fresh, "publish", str(work.company / "events.jsonl"))
    assert fragment in line


@pytest.mark.parametrize("value", ["0", "30", "full", "extra", "normal"])
def test_environment_settings_documented_values_accepted(work, monkeypatch, value):
    name = "PAYBONUS_DISPATCH_TIMEOUT" if value[0].isdigit() else "PAYBONUS_SYNCHRONOUS"
    monkeypatch.setenv(name, value)
    assert cli("--db", str(work.db), "failures")[0] == 0


def test_publish_interrupted_says_how_far_it_went(work, monkeypatch):
    from paybonus.bus import EventBus

    real = EventBus._publish_one
    calls = {"n": 0}

    def interrupted(self, event):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(self, event)

    monkeypatch.setattr(EventBus, "_publish_one", interrupted)
    code, _out, err = cli("--db", str(work.fresh), "publish", str(work.company / "events.jsonl"))
    lines = [x for x in err.splitlines() if x.strip()]
    assert code == 2 and len(lines) == 1, err
    assert re.search(r"aborted; \d+ of the 24 events of .*events.jsonl were recorded", lines[0]), lines[0]
    assert "publishing the file again completes it" in lines[0]
    monkeypatch.setattr(EventBus, "_publish_one", real)
    assert cli("--db", str(work.fresh), "publish", str(work.company / "events.jsonl"))[0] == 0
    assert cli("--db", str(work.fresh), "audit", "verify")[0] == 0


def _tampered_source(work):
    con = sqlite3.connect(work.db)
    with con:
        for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type='trigger'").fetchall():
            con.execute(f"DROP TRIGGER {name}")
        con.execute("UPDATE entitlements SET amount_cents = amount_cents + 100 WHERE rowid = 1")
    con.close()
    return work.db


def _rows(pg_url, table):
    import psycopg

    with psycopg.connect(pg_url) as c:
        return c.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_migrate_a_copy_that_does_not_verify_is_rolled_back(work, pg_url):
    code, out, err = cli("migrate", str(_tampered_source(work)), pg_url)
    assert code == 1 and "problem:" in out, err
    assert "rolled back" in err and err.count("\n") == 1, err
    assert _rows(pg_url, "events") == 0 and _rows(pg_url, "companies") == 0


def test_migrate_interrupted_is_rolled_back_and_runs_again(work, pg_url, monkeypatch):
    import paybonus.audit

    real = paybonus.audit.verify

    def interrupted(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(paybonus.audit, "verify", interrupted)
    code, _out, err = cli("migrate", str(work.db), pg_url)
    assert code == 2 and err.count("\n") == 1 and "aborted" in err and "rolled back" in err, err
    assert _rows(pg_url, "events") == 0
    monkeypatch.setattr(paybonus.audit, "verify", real)
    code, out, err = cli("migrate", str(work.db), pg_url)
    assert code == 0 and "verified" in out, err


def test_ctrl_c_while_the_command_starts_is_no_traceback():
    import os
    import shutil
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    command = shutil.which("paybonus", path=str(Path(sys.executable).parent))
    assert command
    # Python's own start (the interpreter and `site`, before any paybonus code) is outside paybonus' reach: the
    # signal is sent after the time a bare interpreter takes to start on this machine now (slower on a loaded one)
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    bare = time.monotonic() - started
    # nor is coverage's own exit hook (`make test` measures subprocesses): the command runs unmeasured here, or a
    # signal landing while coverage saves its data at exit is coverage's traceback, not paybonus'
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    for delay in (0.1, 0.2, 0.3):  # during paybonus' imports, on a quiet or a loaded machine
        p = subprocess.Popen(
            [command, "--version"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        time.sleep(1.5 * bare + delay)
        p.send_signal(signal.SIGINT)
        _out, err = p.communicate(timeout=60)
        assert "Traceback" not in err, err
        assert err in ("", "error: aborted\n") or err.endswith("error: aborted\n"), err
