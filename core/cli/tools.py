"""Tool commands: compliance checks (lint), DSN files (dsn), the benchmark (bench) and the demo."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import click

from .. import logs
from ..errors import UserError, VerificationFailed
from ..outputs import check_dir, check_file, write_text
from ..parsing import MAX_FILE_BYTES, read_bounded
from .base import State, WholeNumber, ledger_name, out, pass_state
from .output import Column, euros, format_options, plural, progress, render, table

log = logs.get_logger("paybonus.cli")


@click.command(
    "lint",
    epilog="""\b
Examples:
  paybonus lint acme/
  paybonus lint acme/ --format json | jq '.[] | select(.level == "error")'""",
)
@click.argument("company_dir", type=click.Path(path_type=Path))
@format_options()
@pass_state
def lint_cmd(state: State, company_dir: Path, fmt: str) -> None:
    """Check a company's agreements against the law, each finding citing its rule (docs/rules.md), and its
    company.toml as `load` does (rule "config"). Exit 1 if there is any error."""
    from ..lint import lint_company

    config, findings = lint_company(company_dir, state.host(), state.params())
    toml_path = company_dir / "company.toml"
    errors = sum(f.level == "error" for f in findings)
    warnings = sum(f.level == "warning" for f in findings)
    rows = [{"level": str(f.level), "rule": f.rule, "message": f.message} for f in findings]
    render(
        rows,
        fmt,
        ("level", "rule", "message"),
        [Column("level", value=lambda r: r["level"].upper()), Column("rule"), Column("message")],
        summary=f"{toml_path}: {plural(errors, 'error')}, {plural(warnings, 'warning')}",
    )
    log.info("lint.finished", company=config.info.id, errors=errors, warnings=warnings)
    if errors:
        raise VerificationFailed(f"{plural(errors, 'compliance error')} in {toml_path}")


BENCH_COLUMNS = (
    Column("run"),
    Column("employees", right=True),
    Column("companies", right=True),
    Column("events", right=True),
    Column("entitlements", right=True),
    Column("publish_s", "publish s", right=True, value=lambda r: r["phases_s"]["publish"]),
    Column("publish_cpu_s", "publish CPU s", right=True),
    Column("floor_s", "floor s", right=True),
    Column("publish_over_floor", "x floor", right=True),
    Column("events_per_s", "events/s", right=True),
    Column("entitlements_per_s", "entitlements/s", right=True),
    Column("verify_s", "verify s", right=True, value=lambda r: r["phases_s"]["verify"]),
    Column("replay_s", "replay s", right=True, value=lambda r: r["phases_s"].get("replay", "-")),
    Column(
        "publish_peak_rss_mib",
        "publish peak RSS MiB",
        right=True,
        value=lambda r: r.get("publish_peak_rss_mib", "-"),
    ),
    Column(
        "verify_peak_rss_mib",
        "verify peak RSS MiB",
        right=True,
        value=lambda r: r.get("verify_peak_rss_mib", "-"),
    ),
    Column("peak_rss_mib", "run peak RSS MiB (largest process)", right=True),
    Column("audit", value=lambda r: "OK" if r["audit_ok"] else "FAILED"),
)


VERDICT_COLUMNS = (Column("target"), Column("limit"), Column("measured", right=True), Column("verdict"))


BROKER_COLUMNS = (
    Column("path"),
    Column("events", right=True),
    Column("entitlements", right=True),
    Column("seconds", "s", right=True),
    Column("events_per_s", "events/s", right=True),
    Column("entitlements_per_s", "entitlements/s", right=True),
    Column("vs_sqlite", "x sqlite", right=True),
    Column("vs_1_worker", "x 1 worker", right=True, value=lambda r: r["vs_1_worker"] or "-"),
    Column("same_cents", "same cents", value=lambda r: "yes" if r["same_cents"] else "NO"),
)


MAX_WORKERS = 64  # worker processes of one bench run (each a process and a PostgreSQL connection)
MAX_EMPLOYEES = 1_000_000  # one company's employees in a bench run (the largest default run: 200 000)


def _counts(text: str, option: str, most: int, one: bool = False) -> list[int]:
    """Comma-separated counts, each from 1 to `most` (ASCII digits)."""
    parts = text.split(",")
    if not all(p.strip().isascii() and p.strip().isdigit() for p in parts):
        raise UserError(option, f"expected comma-separated whole numbers, got {text!r:.80}")
    counts = [int(p) for p in parts]
    if not all(1 <= n <= most for n in counts):
        raise UserError(option, f"each count is from 1 to {most:,}".replace(",", " ") + f", got {text!r:.80}")
    if one and len(counts) != 1:
        raise UserError(option, f"with --workers: one count, got {text!r:.80}")
    return counts


def _bench_workers(
    workers: str,
    db: str | None,
    source: str | None,
    sizes: str | None,
    companies: int,
    out_file: Path | None,
    force: bool,
) -> None:
    from .. import bench as b
    from .. import bench_server

    counts = _counts(workers, "--workers", MAX_WORKERS)
    (employees,) = _counts(sizes, "--sizes", MAX_EMPLOYEES, one=True) if sizes is not None else [4000]
    if not db or not source:
        raise UserError("--workers", "give the PostgreSQL database (--db) and the NATS server (--source)")
    if out_file is not None:
        check_file(out_file, "--out")
    if out_file is not None and out_file.exists() and not force:
        raise UserError(
            str(out_file), "exists: it will not be replaced (choose another file, or add --force)"
        )
    result = bench_server.run(employees, companies, counts, db, source)
    table(BROKER_COLUMNS, [[c.cell(r) for c in BROKER_COLUMNS] for r in result["runs"]])
    if out_file:
        write_text(out_file, json.dumps({"machine": b.machine(), **result}, indent=2), "--out")
        out.print(f"results written to {out_file}", markup=False)
    if not all(r["same_cents"] and not r["failed_dispatches"] for r in result["runs"]):
        raise VerificationFailed("a broker run did not give the same cents as the embedded one")


@click.command(
    epilog="""\b
Examples:
  paybonus bench --quick                     # seconds: checks the command itself
  paybonus bench --sizes 10000 --no-vendor   # one company of 10 000 employees
  TMPDIR=/data/tmp paybonus bench --out bench.json   # minutes; gigabytes of temporary files in $TMPDIR
  paybonus bench --workers 1,2 --db postgresql://pg/bench --source nats://nats:4222 --sizes 4000"""
)
@click.option("--quick", is_flag=True, help="Small sizes (seconds), to check the command itself.")
@click.option(
    "--sizes",
    help="Comma-separated employee counts of one company (each 1 to 1 000 000), instead of "
    "25000,50000,100000,200000.",
)
@click.option(
    "--vendor/--no-vendor",
    default=True,
    show_default=True,
    help="Also run the vendor month (2 000 companies, 250 000 employees).",
)
@click.option(
    "--replay/--no-replay",
    default=True,
    show_default=True,
    help="Also time the full replay (audit verify --replay).",
)
@click.option("--out", "out_file", type=click.Path(path_type=Path), help="Write the results as JSON here.")
@click.option("--force", is_flag=True, help="Replace the --out file if it exists.")
@click.option(
    "--workers",
    metavar="N[,N...]",
    help="The broker path instead: this many `paybonus worker`s (each count in turn, 1 to 64) over --source and "
    "--db, against one process writing SQLite, on the same events.",
)
@click.option(
    "--db",
    "db",
    metavar="URL",
    callback=ledger_name,
    help="With --workers: the PostgreSQL database (a scratch schema in it).",
)
@click.option("--source", metavar="URL", help="With --workers: the NATS server (a scratch stream on it).")
@click.option(
    "--companies",
    type=WholeNumber(1, 100_000),
    default=40,
    show_default=True,
    help="With --workers: how many companies share --sizes employees.",
)
def bench(
    quick: bool,
    sizes: str | None,
    vendor: bool,
    replay: bool,
    out_file: Path | None,
    force: bool,
    workers: str | None,
    db: str | None,
    source: str | None,
    companies: int,
) -> None:
    """Throughput on synthetic companies against a raw-SQLite floor (docs/performance.md). Each run prepares a
    ledger in a temporary folder ($TMPDIR), publishes, verifies, and removes it. With --workers: the broker path
    (NATS JetStream and PostgreSQL) against the embedded one, measured together."""
    from .. import bench as b

    if workers is not None:
        _bench_workers(workers, db, source, sizes, companies, out_file, force)
        return

    if sizes is not None:
        counts = _counts(sizes, "--sizes", MAX_EMPLOYEES)
        runs = [("large employer" if n == 200_000 else "growth", n, 1) for n in counts]
        if vendor:
            runs.append(("vendor month", 250_000, 2_000))
    else:
        runs = [r for r in b.plan(quick) if vendor or r[0] != "vendor month"]
    if out_file is not None:
        check_file(out_file, "--out")
    if out_file is not None and out_file.exists() and not force:
        raise UserError(
            str(out_file), "exists: it will not be replaced (choose another file, or add --force)"
        )
    results = []
    with progress(f"bench: {plural(len(runs), 'run')}", len(runs)) as advance:
        for i, (label, n, companies) in enumerate(runs):
            r = b.run(n, companies, replay)
            r["run"] = label
            results.append(r)
            advance(i + 1)
            log.info(
                "bench.run",
                run=label,
                employees=n,
                publish_s=r["phases_s"]["publish"],
                ratio=r["publish_over_floor"],
            )
    table(BENCH_COLUMNS, [[c.cell(r) for c in BENCH_COLUMNS] for r in results])
    checks = b.verdicts(results)
    if checks:
        table(VERDICT_COLUMNS, [list(c) for c in checks])
    if out_file:
        document = {"machine": b.machine(), "runs": results, "verdicts": [list(c) for c in checks]}
        write_text(out_file, json.dumps(document, indent=2), "--out")
        out.print(f"results written to {out_file}", markup=False)


@click.command(
    "dsn",
    epilog="""\b
Examples:
  paybonus dsn dsn/*.txt --company ACME --events departures.jsonl --absences absences.csv
  paybonus dsn dsn/2025-*.txt --company ACME --company-dir acme/   # employees.csv, payroll/, absences.csv""",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--company", required=True, help="The paybonus company id the declarations belong to.")
@click.option(
    "--events",
    "events_out",
    type=click.Path(path_type=Path),
    help="Write employee_left events here (default: stdout).",
)
@click.option(
    "--absences", "absences_out", type=click.Path(path_type=Path), help="Write absences.csv rows here."
)
@click.option(
    "--company-dir",
    type=click.Path(path_type=Path),
    help="Write employees.csv, payroll/YYYY-MM.csv and absences.csv here, from monthly declarations.",
)
@click.option("--force", is_flag=True, help="Replace files that exist (by default, refuse to).")
@pass_state
def dsn_cmd(
    state: State,
    files: tuple[Path, ...],
    company: str,
    events_out: Path | None,
    absences_out: Path | None,
    company_dir: Path | None,
    force: bool,
) -> None:
    """Read DSN files: contract ends as employee_left events, stoppages and suspensions as absences.csv rows,
    and with --company-dir the company's employees and monthly pay."""
    from .. import dsn
    from ..events import canonical_json, is_name_id

    if not is_name_id(company):
        raise UserError("--company", f"{company!r:.80} is not a company id (1-64 letters, digits or ._-)")
    outputs = [(o, p) for o, p in (("--events", events_out), ("--absences", absences_out)) if p is not None]
    for option, path in outputs:
        check_file(path, option)
    if company_dir is not None:
        check_dir(company_dir, "--company-dir")
    _distinct_outputs(outputs, company_dir)
    inputs = {f.resolve() for f in files}
    for option, path in outputs:  # with --force, the declarations read would be replaced
        if path.resolve() in inputs:
            raise UserError(f"{option} {path}", "is an input of this command: name another file")
    declarations = []
    for f in files:
        try:
            raw = read_bounded(f, MAX_FILE_BYTES)
        except OSError as exc:
            raise UserError(str(f), f"cannot read ({exc.strerror})") from None
        declarations += dsn.parse(dsn.read_text(raw, str(f)), str(f))
    events = dsn.departures(declarations, company)
    rows = dsn.absence_rows(declarations)
    data = dsn.company_files(declarations, state.params()) if company_dir is not None else None
    if data is not None and not data.employees:
        raise UserError(str(files[0]), "no employee (S21.G00.30) in these declarations")
    text = "".join(canonical_json(e) + "\n" for e in events)
    targets = [p for p in (events_out, absences_out) if p is not None]
    if company_dir is not None and data is not None:
        targets += [company_dir / "employees.csv", company_dir / "absences.csv"]
        targets += [company_dir / "payroll" / f"{m}.csv" for m in data.payroll]
    existing = [p for p in targets if p.exists()]
    if existing and not force:
        raise UserError(
            str(existing[0]),
            f"exists{f' (and {len(existing) - 1} more)' if len(existing) > 1 else ''}: "
            "it will not be replaced (choose another place, or add --force)",
        )
    absence_fields = ["employee_id", "kind", "start", "end"]
    written: list[Path] = []
    try:
        if events_out is None:
            sys.stdout.write(text)
        else:
            write_text(events_out, text, "--events")
            written.append(events_out)
        if absences_out is not None:
            _write_csv(absences_out, absence_fields, rows, "--absences")
            written.append(absences_out)
        if company_dir is not None and data is not None:
            try:
                (company_dir / "payroll").mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UserError(f"--company-dir {company_dir}", f"cannot create ({exc.strerror})") from None
            for name, fields, content in (
                ("employees.csv", list(data.employees[0]), data.employees),
                *((f"payroll/{m}.csv", list(pay[0]), pay) for m, pay in data.payroll.items()),
                ("absences.csv", absence_fields, data.absences),
            ):
                _write_csv(company_dir / name, fields, content, "--company-dir")
                written.append(company_dir / name)
    except UserError as exc:
        if not written:
            raise
        raise UserError(
            exc.where,
            f"{exc.what}; written before it: {', '.join(map(str, written))} (run it again with --force)",
        ) from None
    if company_dir is not None and not (company_dir / "company.toml").is_file():
        click.echo(f"note: write {company_dir / 'company.toml'} before `paybonus load`", err=True)
    people = {p.matricule for d in declarations for p in d.individuals}
    log.info(
        "dsn.read",
        declarations=len(declarations),
        employees=len(people),
        departures=len(events),
        absences=len(rows),
    )
    click.echo(
        f"{plural(len(declarations), 'declaration')}, {plural(len(people), 'employee')}: "
        f"{plural(len(events), 'departure')}, {plural(len(rows), 'absence')}",
        err=True,
    )


@click.command(
    epilog="""\b
Examples:
  paybonus demo                       # leaves paybonus-demo.db
  paybonus demo --db /tmp/try.db"""
)
@click.option(
    "--db",
    "demo_db",
    default="paybonus-demo.db",
    show_default=True,
    callback=ledger_name,
    help="Where to leave the demo ledger.",
)
@click.option(
    "--force", is_flag=True, help="Replace the ledger even if it holds other companies than the demo's."
)
@pass_state
def demo(state: State, demo_db: str, force: bool) -> None:
    """Run the shipped sample company: a fresh ledger, its payroll, a year of events, an audit check."""
    from paybonus.fixtures.demo import SAMPLE_COMPANIES, run_sample

    demo_db = state.demo_ledger("demo_db", demo_db, force, "the demo's own --db")
    with state.app(demo_db, fresh_for=SAMPLE_COMPANIES, force=force) as app:
        r = run_sample(app)
    c = r.published.counts
    out.print(
        f"published {plural(c['events'], 'event')} ({c['completed']} dispatches completed, {c['failed']} failed)",
        markup=False,
    )
    table(
        [
            Column("scheme"),
            Column("kind"),
            Column("entitlements", right=True),
            Column("employees", right=True),
            Column("total", money=True),
        ],
        [[scheme, kind, str(n), str(emps), euros(total)] for scheme, kind, n, total, emps in r.summary],
    )
    out.print(
        f"audit: {'OK' if r.report.ok else 'FAILED'} ({plural(r.report.entries, 'entry')}, "
        f"{r.report.recomputed} amounts recomputed)",
        markup=False,
    )
    out.print(f"ledger left at {demo_db}; try:", markup=False)
    for hint in (
        f"paybonus --db {demo_db} entitlements --company DURAND --scheme interessement",
        f"paybonus --db {demo_db} export --payroll-month 2026-05 --out payroll-2026-05.csv",
        f"sqlite-utils query {demo_db} 'select * from totals_by_scheme' --csv",
        f"paybonus --db {demo_db} browse          # needs: pip install 'paybonus[browse]'",
    ):
        out.print(f"  {hint}", markup=False)
    if not r.report.ok:
        raise VerificationFailed(str(r.report.problems[0]))


def _distinct_outputs(outputs: list[tuple[str, Path]], company_dir: Path | None) -> None:
    """Two options naming one file would have the second overwrite the first: refused."""
    seen: dict[Path, str] = {}
    named = list(outputs)
    if company_dir is not None:
        named += [("--company-dir", company_dir / n) for n in ("employees.csv", "absences.csv")]
    for option, path in named:
        key = path.resolve()
        if key in seen:
            raise UserError(f"{option} {path}", f"is also {seen[key]}'s file: give each its own file")
        seen[key] = option


def _write_csv(path: Path, fields: list[str], rows: list[dict[str, str]], option: str = "") -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    write_text(path, buf.getvalue(), option)
