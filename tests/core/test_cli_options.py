"""Every option of every command, invoked at least once: a table checked against click's own command tree.

`test_every_option_of_every_command_is_in_the_table` walks the `paybonus` group recursively (plugin commands
included) and lists each option name (both names of an on/off switch) and each value of a choice option; the
table's command lines must invoke all of them. A new option, or a new value of a choice, without a line here
fails it. Each line then runs in this process on the shipped sample company and checks what it printed.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest
import structlog
from conftest import shared
from paybonus.cli import cli, main
from paybonus.fixtures import project_sample_dir, sample_dir

DSN = shared("data", "dsn", "sample_dsn_P25V01.dsn")
PARAMS = (
    '[tmop]\nunit = "rate"\nsource = "test value"\n'
    'values = [{ semester = "2025-S2", jo = 2026-01-15, from = 2026-01-16, value = "0.035" }]\n'
)


@dataclass
class Case:
    """A command line (placeholders: {ENT} an intéressement entitlement, {SAMPLE} the sample company, {PROJECT}
    the project example, {DSN} the DSN sample), its exit code and what its output must contain."""

    args: str
    code: int = 0
    out: tuple[str, ...] = ()
    before: tuple[str, ...] = ()  # command lines run first (exit 0)
    files: tuple[str, ...] = ()  # files the command must have written (relative to its folder)
    id: str = field(default="")


CASES = [
    Case("--version", out=("paybonus, version",)),
    Case("--strict-plugins plugins --format json", out=('"prime_fin_annee"',)),
    Case(
        "--params params.toml --log-format json --log-level info entitlements --format csv",
        out=("id,company",),
    ),
    Case("--params missing.toml entitlements", 2, ("error: missing.toml: cannot read parameters",)),
    Case("--log-format console --log-level debug plugins --format tsv", out=("name\t",)),
    Case("--log-level warning failures --format json", out=("[]",)),
    Case("--log-level error failures --check --format jsonl", out=()),
    Case("init", out=("ledger already up to date: paybonus.db",)),
    Case("--db fresh.db init", out=("ledger created: fresh.db",)),
    Case("load {SAMPLE}", out=("loaded DURAND: 32 employees",)),
    Case("publish {SAMPLE}/events.jsonl", out=("24 events: 0 recorded, 24 already known",)),
    Case(
        "entitlements --company DURAND --scheme interessement --employee E0001 --period 2025 --format json",
        out=('"employee": "E0001"', '"scheme": "interessement"'),
    ),
    Case("entitlements --format jsonl --nl --scheme pmt", out=('"scheme": "pmt"',)),
    Case("entitlements --format table --company NOBODY", 2, ("no company in paybonus.db is named 'NOBODY'",)),
    Case("entitlements --format tsv --employee E0002", out=("E0002\t",)),
    Case("explain {ENT} --format json", out=('"amount_cents": ', '"explanation": ')),
    Case("explain {ENT} --format text", out=("I-13",)),
    Case("browse --print-metadata", out=('"databases"',)),
    Case(
        "deadlines --as-of 2026-05-01 --within 30 --company DURAND --format table",
        out=("due", "interessement", "2026-05-31"),
    ),
    Case(
        "deadlines --as-of 2026-06-01 --check --format json",
        out=("138 new deadline notices as of 2026-06-01",),
    ),
    Case("deadlines --as-of 2026-06-01 --format jsonl --nl --company DURAND", out=('"kind": "overdue"',)),
    Case("deadlines --format csv", out=("kind,company,entitlement",)),
    Case("deadlines --format tsv --within 0", out=("kind\tcompany\tentitlement",)),
    # click's INT read '1_000' as 1000, '+5' and '٣' (Arabic-Indic three) as numbers: whole numbers are digits 0-9
    Case("deadlines --within 1_000", 2, ("--within: '1_000': a whole number 0..3660, in digits 0-9",)),
    Case("deadlines --within +5", 2, ("--within: '+5': a whole number 0..3660, in digits 0-9",)),
    Case("deadlines --within \u0663", 2, ("a whole number 0..3660, in digits 0-9",)),
    Case("deadlines --within 3661", 2, ("--within: 3661: a whole number 0..3660",)),
    Case("browse --port 65536", 2, ("--port: 65536: a whole number 1..65535",)),
    Case("publish --per-message 0 --to nats://x -", 2, ("--per-message: 0: a whole number 1..10000",)),
    Case(
        "export --format jsonl --company DURAND --scheme interessement --as-of 2026-05-31 --out x.jsonl",
        files=("x.jsonl",),
    ),
    Case("export --format jsonl --nl --payroll-month 2026-05", out=('"scheme": "interessement"',)),
    Case("export --format json --nl --payroll-month 2026-05", 2, ("error: --nl: is --format jsonl",)),
    Case("export --format csv --out x.csv", 2, ("exists",), before=("export --format csv --out x.csv",)),
    Case(
        "export --format csv --out x.csv --force",
        before=("export --format csv --out x.csv",),
        files=("x.csv",),
    ),
    Case("export --format tsv --scheme prime_nao", out=("prime_nao",)),
    Case(
        "statements --company DURAND --period 2025 --scheme interessement --employee E0001 --format html "
        "--out st --issued-on 2026-04-01 --channel email --events st.jsonl",
        files=("st.jsonl",),
        out=("1 statement",),
    ),
    Case(
        "statements --company DURAND --period 2025 --employee E0001 --out st --issued-on 2026-04-01 --channel email "
        "--events st.jsonl",
        2,
        ("st.jsonl: exists: it will not be replaced", "--force"),
        before=(
            "statements --company DURAND --period 2025 --out st0 --issued-on 2026-04-01 --channel email "
            "--events st.jsonl",
        ),
    ),
    Case(
        "statements --company DURAND --period 2025 --employee E0001 --out st --issued-on 2026-04-01 --channel email "
        "--events st.jsonl --force",
        before=(
            "statements --company DURAND --period 2025 --out st0 --issued-on 2026-04-01 --channel email "
            "--events st.jsonl",
        ),
        files=("st.jsonl", "st/DURAND-interessement-20250101-E0001.html"),
        out=("1 statement",),
    ),
    Case(
        "statements --company DURAND --period 2025 --employee E0002 --format pdf --out st --issued-on 2026-04-01 "
        "--channel post --key k.key",
        before=("audit keygen --out k.key",),
        out=("1 statement",),
    ),
    Case(
        "statements --company DURAND --period 2025 --employee E0005 --format pdf --out st --issued-on 2026-04-01 "
        "--channel email --jobs 1",
        files=("st/DURAND-interessement-20250101-E0005.pdf",),
        out=("1 statement",),
    ),
    Case(
        "statements --company DURAND --period 2025 --format pdf --out st --issued-on 2026-04-01 --channel email "
        "--jobs 257",
        2,
        ("--jobs: 257: a whole number 1..256",),
    ),
    Case(
        "statements --company DURAND --period 2025 --employee E0003 --out st --issued-on 2026-04-01 --channel hand",
        out=("1 statement",),
    ),
    Case(
        "statements --company DURAND --period 2025 --employee E0004 --out st --issued-on 2026-04-01 --channel portal",
        out=("1 statement",),
    ),
    Case(
        "notice verify --offline --public-key k.pub st/DURAND-interessement-20250101-E0001.html",
        before=(
            "audit keygen --out k.key",
            "audit public-key --key k.key > k.pub",
            "statements --company DURAND --period 2025 --employee E0001 --out st --issued-on 2026-04-01 "
            "--channel email --key k.key",
        ),
        out=("OK (signed by key",),
    ),
    Case("audit keygen --out k.key", files=("k.key",)),
    Case("audit public-key --key k.key", before=("audit keygen --out k.key",), out=("=",)),
    Case(
        "audit checkpoint --key k.key --out cp.json", before=("audit keygen --out k.key",), files=("cp.json",)
    ),
    Case(
        "audit verify --checkpoint cp.json --public-key k.pub --key k.key --replay",
        before=(
            "audit keygen --out k.key",
            "audit public-key --key k.key > k.pub",
            "audit checkpoint --key k.key --out cp.json",
        ),
        out=("checkpoints: 1 checked", "replay: 72 dispatches re-run", "audit: OK"),
    ),
    Case("audit verify --expect-head 00ff", 1, ("head",)),
    Case("retry --event DURAND-close-2025-06 --scheme interessement", out=("retried 0 dispatches",)),
    Case("retry --event NOPE", 2, ("no event 'NOPE'",)),
    Case("retry --event DURAND-close-2025-06 --company DURAND", out=("retried 0 dispatches",)),
    Case("retry --scheme interessement --backfill", out=("retried 0 dispatches",)),
    Case("retry --event DURAND-close-2025-06 --company NOPE", 2, ("no company",)),
    Case("lint {SAMPLE} --format json", out=('"rule"',)),
    Case("lint {SAMPLE} --format jsonl --nl", out=('"rule"',)),
    Case("lint {SAMPLE} --format table", out=("rule",)),
    Case("lint {SAMPLE} --format csv", out=("rule",)),
    Case("lint {SAMPLE} --format tsv", out=("rule",)),
    Case("plugins --format table", out=("prime_fin_annee",)),
    Case("plugins --format csv", out=("prime_fin_annee",)),
    Case("plugins --format jsonl --nl", out=('"prime_fin_annee"',)),
    Case("failures --format table", out=("0 failed dispatches",)),
    Case(
        "failures --format csv --nl", 2, ("error: --nl: is --format jsonl, which contradicts --format csv",)
    ),
    Case("failures --format tsv", out=()),
    Case(
        "dsn {DSN} --company TEST --events ev.jsonl --absences abs.csv --force",
        files=("ev.jsonl", "abs.csv"),
    ),
    Case("dsn {DSN} --company TEST --company-dir co", 0, files=("co/employees.csv",)),
    Case("demo --db demo.db --force", out=("audit",), files=("demo.db",)),
    Case("project check {PROJECT}/project.toml", out=("ATLAS",)),
    Case("project demo --demo-db pdemo.db --force", files=("pdemo.db",)),
    Case(
        "--db pdemo.db project measure {PROJECT}/project.toml --period 2025 --company ALPHA -o m.json",
        out=("measured 1 entity of ATLAS",),
        files=("m.json",),
    ),
    Case(
        "--db pdemo.db project measure {PROJECT}/project.toml --period 2025 --company NOBODY --output m.json",
        2,
        ("error: --company: no entity of ATLAS is loaded in this ledger",),
    ),
    Case(
        "--db pdemo.db project statement {PROJECT}/project.toml {PROJECT}/results-2025.json --measures m.json "
        "-o s.json --issued-at 2026-03-02T09:00:00+01:00 --key k.key",
        before=(
            "audit keygen --out k.key",
            "--db pdemo.db project measure {PROJECT}/project.toml --period 2025 --company ALPHA -o m.json",
        ),
        out=("pool 21\u202f250,00 € split between 3 entities, signed by key",),
        files=("s.json",),
    ),
    Case(
        "--db pdemo.db project statement {PROJECT}/project.toml {PROJECT}/results-2025.json --output s.json",
        out=("the statement is not signed",),
        files=("s.json",),
    ),
    Case(
        "--db pdemo.db project import pdemo.statement.json --company ALPHA",
        out=("ALPHA: statement already recorded",),
    ),
    Case("--db pdemo.db project show ATLAS --period 2025 --format json", out=('"entity":"ALPHA"',)),
    Case("--db pdemo.db project show ATLAS --format table", out=("MEGA-LYON",)),
]

# Options run by a test of their own (the server and the long benchmark runs are replaced there by recorders).
ELSEWHERE = {
    "browse --host": "test_browse_serves_where_it_is_told",
    "browse --port": "test_browse_serves_where_it_is_told",
    "browse --open": "test_browse_serves_where_it_is_told",
    "browse --no-open": "test_browse_serves_where_it_is_told",
    "bench --quick": "test_bench_plans_its_runs_from_its_options",
    "bench --sizes": "test_bench_plans_its_runs_from_its_options",
    "bench --vendor": "test_bench_plans_its_runs_from_its_options",
    "bench --no-vendor": "test_bench_plans_its_runs_from_its_options",
    "bench --replay": "test_bench_plans_its_runs_from_its_options",
    "bench --no-replay": "test_bench_plans_its_runs_from_its_options",
    "bench --out": "test_bench_plans_its_runs_from_its_options",
    "bench --force": "test_bench_plans_its_runs_from_its_options",
    # the server commands need a broker and PostgreSQL: their own suite runs them (file::function)
    "bench --workers": "test_worker.py::test_bench_workers_measures_the_broker_path_against_sqlite_on_the_same_events",
    "bench --db": "test_worker.py::test_bench_workers_measures_the_broker_path_against_sqlite_on_the_same_events",
    "bench --source": "test_worker.py::test_bench_workers_measures_the_broker_path_against_sqlite_on_the_same_events",
    "bench --companies": "test_worker.py::test_bench_workers_measures_the_broker_path_against_sqlite_on_the_same_events",
    "health --db": "test_worker.py::health",
    "health --source": "test_worker.py::health",
    "publish --to": "test_worker.py::test_a_worker_records_what_publish_records_and_stops_on_sigterm",
    "publish --per-message": "test_worker.py::test_a_worker_records_what_publish_records_and_stops_on_sigterm",
    "worker --db": "test_worker.py::start_worker",
    "worker --id": "test_worker.py::start_worker",
    "worker --source": "test_worker.py::start_worker",
    "worker --max-deliveries": "test_worker.py::test_a_message_that_keeps_failing_becomes_a_dead_letter_in_the_ledger_and_the_broker",
    "grant --writer": "test_pg_grants.py::test_grant_gives_the_writer_and_the_reader_their_privileges",
    "grant --reader": "test_pg_grants.py::test_grant_gives_the_writer_and_the_reader_their_privileges",
    "grant --dry-run": "test_pg_grants.py::test_grant_gives_the_writer_and_the_reader_their_privileges",
}


def command_tree() -> dict[str, dict[str, click.Parameter]]:
    """Each command path ('' for the group, 'audit verify', ...) and its options by every name they have."""
    tree: dict[str, dict[str, click.Parameter]] = {}

    def walk(cmd: click.Command, path: list[str], parent: click.Context | None) -> None:
        ctx = click.Context(cmd, parent=parent, info_name=path[-1] if path else "paybonus")
        tree[" ".join(path)] = {
            name: p
            for p in cmd.get_params(ctx)
            if isinstance(p, click.Option)
            for name in (*p.opts, *p.secondary_opts)
            if name not in ("-h", "--help")
        }
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                assert sub is not None
                walk(sub, [*path, name], ctx)

    walk(cli, [], None)
    return tree


def required_keys(tree: dict[str, dict[str, click.Parameter]]) -> set[str]:
    keys = set()
    for path, options in tree.items():
        for name, p in options.items():
            keys.add(f"{path} {name}".strip())
            if isinstance(p.type, click.Choice) and name in p.opts:
                keys.update(f"{path} {name}={v}".strip() for v in p.type.choices)
    return keys


def invoked_keys(args: list[str], tree: dict[str, dict[str, click.Parameter]]) -> set[str]:
    """The options (and choice values) a command line uses, resolved on the command tree as click would."""
    keys, path, i = set(), "", 0
    while i < len(args):
        token = args[i]
        name, _, inline = token.partition("=")
        options = tree[path]
        if name in options:
            p = options[name]
            keys.add(f"{path} {name}".strip())
            if not p.is_flag and not p.count:
                value = inline or args[i + 1]
                i += 0 if inline else 1
                if isinstance(p.type, click.Choice):
                    keys.add(f"{path} {name}={value}".strip())
        elif f"{path} {token}".strip() in tree:
            path = f"{path} {token}".strip()
        i += 1
    return keys


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli-options")
    company = base / "durand"
    shutil.copytree(sample_dir(), company)
    with (company / "company.toml").open("a", encoding="utf-8") as f:
        f.write('\n[schemes.prime_fin_annee]\namount = "800.00"\n')
    db = str(base / "paybonus.db")
    for args in (["init"], ["load", str(company)], ["publish", str(company / "events.jsonl")]):
        assert run_in(base, ["--db", db, *args])[0] == 0
    _code, out, _ = run_in(
        base, ["--db", db, "entitlements", "--scheme", "interessement", "--format", "json"]
    )
    ent = json.loads(out)[0]["id"]
    project = base / "project"
    shutil.copytree(project_sample_dir(), project)
    assert run_in(base, ["project", "demo", "--demo-db", "pdemo.db"])[0] == 0
    return base, {"{ENT}": ent, "{SAMPLE}": str(company), "{PROJECT}": str(project), "{DSN}": str(DSN)}


def run_in(cwd: Path, args: list[str]) -> tuple[int, str, str]:
    """`paybonus ARGS` in this process, in folder `cwd`: (exit code, stdout, stderr)."""
    saved = structlog.get_config()
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(args)
        finally:
            structlog.configure(**saved)
    return code, out.getvalue(), err.getvalue()


def expand(line: str, values: dict[str, str]) -> list[str]:
    for k, v in values.items():
        line = line.replace(k, v)
    return line.split()


def test_every_option_of_every_command_is_in_the_table():
    tree = command_tree()
    assert {"", "audit verify", "project show", "bench", "deadlines"} <= set(tree)
    covered = set()
    for case in CASES:
        covered |= invoked_keys(case.args.split(), tree)
        for before in case.before:
            covered |= invoked_keys(before.split(">")[0].split(), tree)
    here = Path(__file__).read_text(encoding="utf-8")
    for key, where in ELSEWHERE.items():
        file, _, test = where.rpartition("::")
        source = (Path(__file__).parent / file).read_text(encoding="utf-8") if file else here
        assert f"def {test}(" in source, key
        option = key.split()[-1]
        body = source.split(f"def {test}(", 1)[1].split("\ndef ", 1)[0]
        assert f'"{option}"' in body, f"{test} does not invoke {option}"
        covered.add(key)
    missing = sorted(required_keys(tree) - covered)
    assert not missing, f"options no test invokes (add a line to CASES): {missing}"
    stale = sorted(set(ELSEWHERE) - required_keys(tree))
    assert not stale, f"ELSEWHERE names options that no longer exist: {stale}"


@pytest.mark.parametrize("case", CASES, ids=[c.args[:60] for c in CASES])
def test_each_line_of_the_table(world, tmp_path, case):
    base, values = world
    for name in ("paybonus.db", "pdemo.db", "pdemo.statement.json"):
        shutil.copy(base / name, tmp_path / name)
    (tmp_path / "params.toml").write_text(PARAMS, encoding="utf-8")
    for before in case.before:
        command, _, target = before.partition(">")
        code, out, err = run_in(tmp_path, expand(command, values))
        assert code == 0, (before, err)
        if target:
            (tmp_path / target.strip()).write_text(out.strip(), encoding="utf-8")
    code, out, err = run_in(tmp_path, expand(case.args, values))
    assert code == case.code, (out, err)
    for text in case.out:
        assert text in out + err, (text, out[:2000], err[:2000])
    for name in case.files:
        assert (tmp_path / name).exists(), name
    if case.code == 2:
        assert len([line for line in err.splitlines() if line.strip()]) == 1 and "Traceback" not in err


def test_browse_serves_where_it_is_told(world, tmp_path, monkeypatch):
    import paybonus.browse

    calls = []
    monkeypatch.setattr(paybonus.browse, "serve", lambda *a: calls.append(a))
    base, _ = world
    db = str(base / "paybonus.db")
    assert (
        run_in(tmp_path, ["--db", db, "browse", "--host", "127.0.0.2", "--port", "9009", "--no-open"])[0] == 0
    )
    assert run_in(tmp_path, ["--db", db, "browse", "--open"])[0] == 0
    assert calls == [(db, "127.0.0.2", 9009, False), (db, "127.0.0.1", 8001, True)]


def test_bench_plans_its_runs_from_its_options(tmp_path, monkeypatch):
    import paybonus.bench

    runs = []
    real = paybonus.bench.run

    small: list[dict] = []

    def record(n, companies, replay):
        runs.append((n, companies, replay))
        small or small.append(real(30, 1, False))  # one real small run: every column of the table is there
        return dict(small[0])

    monkeypatch.setattr(paybonus.bench, "run", record)
    code, out, err = run_in(tmp_path, ["bench", "--quick", "--no-vendor", "--no-replay", "--out", "b.json"])
    assert code == 0, err
    assert runs == [(2_000, 1, False), (4_000, 1, False)]
    assert out.count("growth") == 2
    assert "growth" in (tmp_path / "b.json").read_text()
    runs.clear()
    assert run_in(tmp_path, ["bench", "--sizes", "10,20", "--vendor", "--replay", "--out", "b.json"])[0] == 2
    assert runs == []  # the --out file exists: refused before any run
    code, _out, err = run_in(
        tmp_path, ["bench", "--sizes", "10,20", "--vendor", "--replay", "--out", "b.json", "--force"]
    )
    assert code == 0, err
    assert runs == [(10, 1, True), (20, 1, True), (250_000, 2_000, True)]
    assert run_in(tmp_path, ["bench", "--sizes", "ten"])[0] == 2


def test_bench_workers_checks_its_options_and_fails_when_a_broker_run_pays_other_cents(tmp_path, monkeypatch):
    import paybonus.bench_server

    def one_line_error(code, err, words):
        assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err

    calls = []
    row = {"events": 10, "entitlements": 20, "seconds": 1.0, "events_per_s": 10.0, "entitlements_per_s": 20.0}
    runs = [
        {**row, "path": "sqlite, 1 process", "vs_sqlite": 1.0, "vs_1_worker": None, "same_cents": True},
        {
            **row,
            "path": "nats + postgresql, 1 worker",
            "vs_sqlite": 1.0,
            "vs_1_worker": 1.0,
            "same_cents": True,
        },
    ]
    for r in runs:
        r["failed_dispatches"] = 0

    def fake(employees, companies, workers, db, source):
        calls.append((employees, companies, workers, db, source))
        return {"employees": employees, "companies": companies, "runs": [dict(r) for r in runs]}

    monkeypatch.setattr(paybonus.bench_server, "run", fake)
    one_line_error(
        *run_in(tmp_path, ["bench", "--workers", "1"])[::2], "--workers: give the PostgreSQL database"
    )
    args = ["bench", "--workers", "1,x", "--db", "postgresql://h/db", "--source", "nats://h:4222"]
    one_line_error(
        *run_in(tmp_path, args)[::2], "--workers: expected comma-separated whole numbers, got '1,x'"
    )
    (tmp_path / "b.json").write_text("{}")
    args[2] = "1"
    one_line_error(
        *run_in(tmp_path, [*args, "--out", "b.json"])[::2], "b.json: exists: it will not be replaced"
    )
    assert calls == []  # every refusal came before a run
    code, out, err = run_in(tmp_path, args)
    assert code == 0 and "nats + postgresql, 1 worker" in out and "results written" not in out, err
    assert calls == [(4000, 40, [1], "postgresql://h/db", "nats://h:4222")]
    runs[1]["same_cents"] = False
    code, out, err = run_in(tmp_path, args)
    assert code == 1 and "a broker run did not give the same cents as the embedded one" in err
    assert "NO" in out  # the table shows which run


def test_bench_prints_the_verdicts_of_a_run_with_targets_and_runs_the_full_plan_by_default(
    tmp_path, monkeypatch
):
    import paybonus.bench

    assert list(paybonus.bench.plan(False)) == [
        ("growth", 25_000, 1),
        ("growth", 50_000, 1),
        ("growth", 100_000, 1),
        ("large employer", 200_000, 1),
        ("vendor month", 250_000, 2_000),
    ]
    result = {
        "employees": 200_000,
        "companies": 1,
        "phases_s": {"publish": 29.0, "verify": 9.0},
        "publish_cpu_s": 28.0,
        "floor_s": 15.0,
        "publish_over_floor": 1.93,
        "events_per_s": 1.0,
        "entitlements_per_s": 1.0,
        "peak_rss_mib": 1100,
        "audit_ok": True,
    }
    monkeypatch.setattr(paybonus.bench, "run", lambda n, companies, replay: dict(result))
    code, out, err = run_in(tmp_path, ["bench", "--sizes", "200000", "--no-vendor"])
    assert code == 0, err
    assert "large employer 200,000: peak_rss_mib" in out and "MISSED" in out and "results written" not in out
    # the run's peak is the largest process's (publish, verify, replay: each in its own process), and says so
    assert "largest process" in out and "verify peak RSS MiB" in out
    with pytest.raises(RuntimeError, match="bench nonsense failed"):  # a run's process that fails is named
        paybonus.bench._child("nonsense")
