"""The command's conventions, as datasette, sqlite-utils and gh users expect them: output formats, errors, help,
exit codes, plurals, progress, files it refuses to replace, and a ledger only its owner can read."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import pty
import select
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import click
import pytest
from conftest import shared
from helpers.cli import file_hash, run, run_here, sample_copy
from paybonus.cli import cli
from paybonus.cli.output import plural

DATA = Path(__file__).parent.parent / "data"


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """The sample company loaded and its year published, once for the module (copy it before writing)."""
    cwd = tmp_path_factory.mktemp("published")
    company = sample_copy(cwd / "durand", with_scheme=False)
    assert run("init", cwd=cwd).returncode == 0
    assert run("load", str(company), cwd=cwd).returncode == 0
    r = run("publish", str(company / "events.jsonl"), cwd=cwd)
    assert r.returncode == 0, r.stderr
    return cwd


@pytest.fixture
def world(published, tmp_path):
    shutil.copy(published / "paybonus.db", tmp_path / "paybonus.db")
    shutil.copytree(published / "durand", tmp_path / "durand")
    return tmp_path


def one_line_error(r, *fragments):
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


# -- output formats -------------------------------------------------------------------------------------------


def test_format_json_is_one_array_and_jsonl_or_nl_one_object_per_line(published):
    arr = run_here("entitlements", "--format", "json", cwd=published)
    rows = json.loads(arr.stdout)
    assert isinstance(rows, list) and len(rows) == 106
    lines = run_here("entitlements", "--format", "jsonl", cwd=published).stdout.splitlines()
    assert [json.loads(x) for x in lines] == rows
    assert run_here("entitlements", "--nl", cwd=published).stdout.splitlines() == lines
    empty = run_here("entitlements", "--format", "json", "--period", "2031", cwd=published)
    assert empty.returncode == 0 and json.loads(empty.stdout) == []
    nobody = run_here("entitlements", "--format", "json", "--employee", "nobody", cwd=published)
    assert nobody.returncode == 2 and "--employee: no employee 'nobody'" in nobody.stderr
    for command in (["deadlines", "--as-of", "2026-09-01"], ["lint", "durand"], ["failures"], ["plugins"]):
        runner = run if command[0] == "lint" else run_here  # lint's one test in a real process
        r = runner(*command, "--format", "json", cwd=published)
        assert isinstance(json.loads(r.stdout), list), (command, r.stdout[:200])
    deadlines = json.loads(
        run_here("deadlines", "--as-of", "2026-09-01", "--format", "json", cwd=published).stdout
    )
    assert deadlines and all(isinstance(d["outstanding_cents"], int) for d in deadlines)


def test_csv_and_tsv_have_a_header_and_write_booleans_as_true_false(published):
    c = list(csv.DictReader(io.StringIO(run_here("export", "--as-of", "2026-09-01", cwd=published).stdout)))
    assert c and {r["ordinary_contributions"] for r in c} == {"true", "false"}
    t = run_here("export", "--as-of", "2026-09-01", "--format", "tsv", cwd=published).stdout
    rows = list(csv.DictReader(io.StringIO(t), delimiter="\t"))
    assert rows == c
    arr = json.loads(run_here("export", "--as-of", "2026-09-01", "--format", "json", cwd=published).stdout)
    assert {r["ordinary_contributions"] for r in arr} == {True, False}
    e = run_here("entitlements", "--format", "tsv", cwd=published).stdout.splitlines()
    assert e[0].split("\t")[:4] == ["id", "company", "scheme", "employee"] and len(e) == 107


def test_a_piped_table_is_plain_text_with_euros_right_aligned(published):
    r = run_here("entitlements", "--company", "DURAND", "--scheme", "interessement", cwd=published)
    assert r.returncode == 0
    assert not set("┏┃━│└╇") & set(r.stdout), "no box drawing when piped"
    lines = r.stdout.splitlines()
    header, rows, summary = lines[0], lines[1:-1], lines[-1]
    assert header.split()[:4] == ["id", "company", "scheme", "employee"]
    amounts = [line for line in rows if "€" in line]
    assert len(amounts) == len(rows) == 30
    # right-aligned: every amount ends in the same column, French grouping and decimal comma
    ends = {line.index("€") for line in amounts}
    assert len(ends) == 1
    assert any("\u202f" in line for line in amounts) and all("," in line for line in amounts)
    assert summary.startswith("30 entitlements, total ") and summary.endswith(" €")
    assert max(map(len, lines)) > 160 or all(len(line) <= 160 for line in lines)  # never cut at a fixed width


def test_the_demo_shows_euros_right_aligned(tmp_path):
    r = run("demo", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = [line for line in r.stdout.splitlines() if line.endswith("€")]
    assert len(rows) == 4 and len({len(line) for line in rows}) == 1


# -- errors -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["entitlements", "--company", "NOPE"], ["--company", "'NOPE'", "DURAND"]),
        (["entitlements", "--scheme", "interesement"], ["--scheme", "did you mean 'interessement'"]),
        (["export", "--company", "durand"], ["--company", "did you mean 'DURAND'"]),
        (["deadlines", "--company", "NOPE"], ["--company"]),
        (["retry", "--scheme", "pmtt"], ["--scheme", "'pmt'"]),
        (["retry", "--event", "nope"], ["--event", "no event 'nope'"]),
    ],
)
def test_a_filter_naming_an_unknown_company_or_scheme_is_an_error(published, args, fragments):
    one_line_error(run_here(*args, cwd=published), *fragments)


@pytest.mark.parametrize("group", ["audit", "notice", "project"])
def test_a_group_without_its_subcommand_shows_clicks_help(tmp_path, group):
    r = run_here(group, cwd=tmp_path)
    assert r.returncode == 2
    text = r.stdout + r.stderr
    assert text.startswith(f"Usage: paybonus {group} [OPTIONS] COMMAND [ARGS]...")
    assert "Commands:" in text and "\\x0a" not in text and "error:" not in text


def test_paybonus_alone_shows_the_help(tmp_path):
    r = run_here(cwd=tmp_path)
    text = r.stdout + r.stderr
    assert text.startswith("Usage: paybonus [OPTIONS] COMMAND [ARGS]...") and "Missing command" not in text
    assert (
        text.index("  init") < text.index("  load") < text.index("  publish") < text.index("  entitlements")
    )


@pytest.mark.parametrize(
    ("args", "usage", "suggestion"),
    [
        (["entitlement"], "error: no such command", "'entitlements'"),
        (["audit", "verfy"], "error: audit: no such command", "'verify'"),
        (["entitlements", "--fromat", "json"], "error: entitlements --fromat: no such option", "'--format'"),
    ],
)
def test_usage_errors_are_one_line_with_did_you_mean(tmp_path, args, usage, suggestion):
    r = run_here(*args, cwd=tmp_path)
    assert r.returncode == 2
    (line,) = r.stderr.splitlines()
    assert line.startswith(usage) and line.endswith(" -h)"), r.stderr
    assert "Did you mean" in line and suggestion in line, r.stderr


def test_init_on_a_file_that_is_not_sqlite_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "notes.db").write_text("these are my notes, not a database\n" * 50)
    before = file_hash(tmp_path / "notes.db")
    one_line_error(run_here("--db", "notes.db", "init", cwd=tmp_path), "notes.db", "not a paybonus ledger")
    assert file_hash(tmp_path / "notes.db") == before


# -- exit codes and honest messages ---------------------------------------------------------------------------


def test_publish_exits_1_while_a_dispatch_is_failed_and_says_how_to_retry(tmp_path):
    company = sample_copy(tmp_path / "durand", with_scheme=False)
    assert run("init", cwd=tmp_path).returncode == 0
    assert run("load", str(company), cwd=tmp_path).returncode == 0
    slow = {"PAYBONUS_DISPATCH_TIMEOUT": "0.000001"}  # every scheme runs out of time: dead letters
    r = run("publish", str(company / "events.jsonl"), cwd=tmp_path, env=slow)
    assert r.returncode == 1, r.stderr
    assert "failed" in r.stdout and "paybonus failures" in r.stderr and "paybonus retry" in r.stderr
    # publishing again records nothing new, but dead letters remain: still 1
    assert run("publish", str(company / "events.jsonl"), cwd=tmp_path).returncode == 1
    f = run("failures", "--check", cwd=tmp_path)
    assert f.returncode == 1 and "failed dispatches" in f.stdout
    assert run("retry", cwd=tmp_path).returncode == 0
    assert run("failures", "--check", cwd=tmp_path).returncode == 0
    assert run("publish", str(company / "events.jsonl"), cwd=tmp_path).returncode == 0


def test_init_says_upgraded_only_when_a_migration_ran(tmp_path):
    r = run("init", cwd=tmp_path)
    assert r.stdout.strip() == "ledger created: paybonus.db"
    r = run("init", cwd=tmp_path)
    assert r.stdout.strip() == "ledger already up to date: paybonus.db"
    (tmp_path / "old.db").write_bytes(gzip.decompress((DATA / "ledger-0.1.0-demo.db.gz").read_bytes()))
    r = run("--db", "old.db", "init", cwd=tmp_path)
    assert r.stdout.startswith("ledger upgraded: old.db (applied m004_event_subjects"), r.stdout
    assert run("--db", "old.db", "init", cwd=tmp_path).stdout.startswith("ledger already up to date")


def test_plurals():
    assert [plural(n, "statement") for n in (0, 1, 2)] == ["0 statements", "1 statement", "2 statements"]
    assert plural(1, "error") == "1 error" and plural(2, "entry") == "2 entries"
    assert plural(2, "failed dispatch") == "2 failed dispatches" and plural(1, "entity") == "1 entity"


def test_one_statement_is_one_statement(world):
    emp = json.loads(
        run_here("entitlements", "--scheme", "interessement", "--format", "json", cwd=world).stdout
    )[0]
    r = run_here(
        "statements",
        *("--company", "DURAND", "--period", "2025", "--employee", emp["employee"], "--out", "st"),
        *("--issued-on", "2026-04-15", "--channel", "email"),
        cwd=world,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("1 statement written to st")


def test_explain_format_json_is_one_object_with_the_explanation(published):
    eid = json.loads(run_here("entitlements", "--format", "json", cwd=published).stdout)[0]["id"]
    r = run_here("explain", eid, "--format", "json", cwd=published)
    assert r.returncode == 0, r.stderr
    x = json.loads(r.stdout)
    assert x["id"] == eid and x["recomputed_cents"] == x["amount_cents"]
    assert x["explanation"]["steps"] and x["explanation"]["rules"]
    text = run_here("explain", eid, cwd=published).stdout
    assert "EUR" not in text and "€" in text


def test_the_demo_refuses_to_replace_a_foreign_ledger(world):
    before = file_hash(world / "paybonus.db")
    (world / "other").mkdir()
    shutil.copytree(world / "durand", world / "other" / "acme")
    toml = world / "other" / "acme" / "company.toml"
    toml.write_text(toml.read_text().replace('id = "DURAND"', 'id = "ACME"'))
    assert run_here("load", str(world / "other" / "acme"), cwd=world).returncode == 0
    before = file_hash(world / "paybonus.db")
    one_line_error(run_here("demo", "--db", "paybonus.db", cwd=world), "paybonus.db", "ACME", "--force")
    assert file_hash(world / "paybonus.db") == before
    assert run_here("demo", "--db", "paybonus.db", "--force", cwd=world).returncode == 0


# -- files ----------------------------------------------------------------------------------------------------


def test_the_ledger_and_its_wal_are_readable_by_their_owner_only(tmp_path):
    company = sample_copy(tmp_path / "durand", with_scheme=False)
    assert run("init", cwd=tmp_path).returncode == 0
    assert stat.S_IMODE((tmp_path / "paybonus.db").stat().st_mode) == 0o600
    from paybonus import Paybonus

    with Paybonus.open(tmp_path / "paybonus.db") as app:  # keeps the WAL while open
        app.load_company(company)
        assert stat.S_IMODE((tmp_path / "paybonus.db-wal").stat().st_mode) == 0o600
    with Paybonus.create(tmp_path / "lib.db"):
        assert stat.S_IMODE((tmp_path / "lib.db").stat().st_mode) == 0o600


def test_export_refuses_to_replace_a_file_without_force_and_writes_it_private(published, tmp_path):
    target = tmp_path / "payroll.csv"
    db = str(published / "paybonus.db")
    r = run("--db", db, "export", "--as-of", "2026-09-01", "--out", str(target), cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.endswith("rows written to " + str(target) + "\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    target.write_text("the payroll's own file\n")
    r = run("--db", db, "export", "--out", str(target), cwd=tmp_path)
    one_line_error(r, "payroll.csv", "--force")
    assert target.read_text() == "the payroll's own file\n"
    r = run("--db", db, "export", "--as-of", "2026-09-01", "--out", str(target), "--force", cwd=tmp_path)
    assert r.returncode == 0 and target.read_text().startswith("company,employee")


def test_statements_and_dsn_refuse_to_replace_an_events_file_without_force(published, tmp_path):
    # a previous run's events, not yet published, were silently replaced by `statements --events`: refused like
    # `dsn --events` (exit 2, one line, nothing written: neither the events nor the statements), unless --force
    db = str(published / "paybonus.db")
    events = tmp_path / "issued.jsonl"
    events.write_text("the previous run's events\n")
    args = ["--db", db, "statements", "--company", "DURAND", "--period", "2025", "--employee", "E0001"]
    args += ["--issued-on", "2026-04-15", "--channel", "email", "--out", str(tmp_path / "st")]
    one_line_error(run(*args, "--events", str(events), cwd=tmp_path), "issued.jsonl", "exists", "--force")
    assert events.read_text() == "the previous run's events\n" and not (tmp_path / "st").exists()
    one_line_error(run(*args, "--force", cwd=tmp_path), "--force", "--events")
    r = run(*args, "--events", str(events), "--force", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(events.read_text().splitlines()[0])["type"] == "statement_issued"
    departures = tmp_path / "departures.jsonl"
    departures.write_text("the previous run's events\n")
    dsn = [str(shared("data", "dsn", "sample_dsn_P25V01.dsn"))]
    r = run("--db", db, "dsn", *dsn, "--company", "TEST", "--events", str(departures), cwd=tmp_path)
    one_line_error(r, "departures.jsonl", "exists", "--force")
    assert departures.read_text() == "the previous run's events\n"
    r = run(
        "--db", db, "dsn", *dsn, "--company", "TEST", "--events", str(departures), "--force", cwd=tmp_path
    )
    assert r.returncode == 0 and '"type":"employee_left"' in departures.read_text(), r.stderr


# -- help -----------------------------------------------------------------------------------------------------


def _commands(group: click.Group, prefix: str = ""):
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, f"{prefix}{name} ")
        elif cmd is not None:
            yield f"{prefix}{name}", cmd


BUILT_IN = [
    (n, c)
    for n, c in _commands(cli)
    if not n.startswith("project") and c.callback.__module__ != "paybonus.cli"
]


def test_every_option_of_every_command_has_help_text():
    assert len(BUILT_IN) >= 17
    missing = [
        f"{name} {p.opts[0]}"
        for name, cmd in [("", cli), *BUILT_IN]
        for p in cmd.params
        if isinstance(p, click.Option) and not p.help
    ]
    assert not missing, missing


def test_every_command_shows_examples_in_its_help():
    missing = [name for name, cmd in BUILT_IN if "Examples:" not in (cmd.epilog or "")]
    assert not missing, missing


# -- progress -------------------------------------------------------------------------------------------------


def _stderr_on_a_terminal(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run paybonus with standard error on a pseudo-terminal (standard output piped): (exit code, terminal)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(
        [sys.executable, "-m", "paybonus", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=slave,
        env={**os.environ, "COLUMNS": "120", "TERM": "xterm"},
    )
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        elif p.poll() is not None:
            break
    p.wait(timeout=300)
    os.close(master)
    return p.returncode, seen.decode("utf-8", "replace")


def test_load_publish_and_verify_show_a_progress_bar_on_a_terminal(tmp_path):
    company = sample_copy(tmp_path / "durand", with_scheme=False)
    assert run("init", cwd=tmp_path).returncode == 0
    code, screen = _stderr_on_a_terminal(["load", str(company)], tmp_path)
    assert code == 0 and "loading" in screen, screen
    code, screen = _stderr_on_a_terminal(["publish", str(company / "events.jsonl")], tmp_path)
    assert code == 0 and "publishing" in screen and "/24" in screen, screen
    code, screen = _stderr_on_a_terminal(["audit", "verify"], tmp_path)
    assert code == 0 and "verifying" in screen, screen
    # piped, nothing but the result
    r = run("publish", str(company / "events.jsonl"), cwd=tmp_path)
    assert r.stderr == ""
