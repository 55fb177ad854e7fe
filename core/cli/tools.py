"""Tool commands: compliance checks (lint), DSN files (dsn), the benchmark (bench) and the demo."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import click
from rich.table import Table

from .. import logs
from ..errors import UserError, VerificationFailed
from ..money import format_euros
from .base import State, out, pass_state

log = logs.get_logger("paybonus.cli")


@click.command("lint")
@click.argument("company_dir", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@pass_state
def lint_cmd(state: State, company_dir: Path, fmt: str) -> None:
    """Check a company's agreements against the law. Exit 1 if there is any error."""
    from ..lint import lint_company

    config, findings = lint_company(company_dir, state.host(), state.params())
    toml_path = company_dir / "company.toml"
    errors = sum(f.level == "error" for f in findings)
    warnings = sum(f.level == "warning" for f in findings)
    if fmt == "json":
        for f in findings:
            click.echo(
                json.dumps({"level": f.level, "rule": f.rule, "message": f.message}, ensure_ascii=False)
            )
    else:
        for f in findings:
            out.print(f"{f.level.upper():8}{f.rule:8}{f.message}", markup=False)
        out.print(f"{toml_path}: {errors} errors, {warnings} warnings", markup=False)
    log.info("lint.finished", company=config.info.id, errors=errors, warnings=warnings)
    if errors:
        raise VerificationFailed(f"{errors} compliance errors in {toml_path}")


@click.command()
@click.option("--quick", is_flag=True, help="Small sizes (seconds), to check the command itself.")
@click.option(
    "--sizes", help="Comma-separated employee counts of one company, instead of 25000,50000,100000,200000."
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
def bench(quick: bool, sizes: str | None, vendor: bool, replay: bool, out_file: Path | None) -> None:
    """Throughput on synthetic companies against a raw-SQLite floor (docs/performance.md)."""
    from .. import bench as b

    if sizes:
        try:
            runs = [("growth", int(n), 1) for n in sizes.split(",")]
        except ValueError:
            raise UserError("--sizes", f"expected comma-separated integers, got {sizes!r}") from None
        if vendor:
            runs.append(("vendor month", 250_000, 2_000))
    else:
        runs = [r for r in b.plan(quick) if vendor or r[0] != "vendor month"]
    results = []
    t = Table(
        "run",
        "employees",
        "companies",
        "events",
        "entitlements",
        "publish s",
        "floor s",
        "x floor",
        "events/s",
        "entitlements/s",
        "verify s",
        "replay s",
        "peak RSS MiB",
        "audit",
    )
    for label, n, companies in runs:
        r = b.run(n, companies, replay)
        r["run"] = label
        results.append(r)
        t.add_row(
            label,
            str(n),
            str(companies),
            str(r["events"]),
            str(r["entitlements"]),
            str(r["phases_s"]["publish"]),
            str(r["floor_s"]),
            str(r["publish_over_floor"]),
            str(r["events_per_s"]),
            str(r["entitlements_per_s"]),
            str(r["phases_s"]["verify"]),
            str(r["phases_s"].get("replay", "-")),
            str(r["peak_rss_mib"]),
            "OK" if r["audit_ok"] else "FAILED",
        )
        log.info(
            "bench.run",
            run=label,
            employees=n,
            publish_s=r["phases_s"]["publish"],
            ratio=r["publish_over_floor"],
        )
    out.print(t)
    if out_file:
        out_file.write_text(json.dumps({"machine": b.machine(), "runs": results}, indent=2), encoding="utf-8")
        out.print(f"results written to {out_file}", markup=False)


@click.command("dsn")
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
@pass_state
def dsn_cmd(
    state: State,
    files: tuple[Path, ...],
    company: str,
    events_out: Path | None,
    absences_out: Path | None,
    company_dir: Path | None,
) -> None:
    """Read DSN files: contract ends as employee_left events, stoppages and suspensions as absences.csv rows,
    and with --company-dir the company's employees and monthly pay."""
    from .. import dsn
    from ..events import canonical_json

    declarations = []
    for f in files:
        try:
            raw = f.read_bytes()
        except OSError as exc:
            raise UserError(str(f), f"cannot read ({exc.strerror})") from None
        declarations += dsn.parse(dsn.read_text(raw), str(f))
    events = dsn.departures(declarations, company)
    rows = dsn.absence_rows(declarations)
    data = dsn.company_files(declarations, state.params()) if company_dir is not None else None
    if data is not None and not data.employees:
        raise UserError(str(files[0]), "no employee (S21.G00.30) in these declarations")
    text = "".join(canonical_json(e) + "\n" for e in events)
    if events_out is None:
        sys.stdout.write(text)
    else:
        events_out.write_text(text, encoding="utf-8")
    absence_fields = ["employee_id", "kind", "start", "end"]
    if absences_out is not None:
        _write_csv(absences_out, absence_fields, rows)
    if company_dir is not None and data is not None:
        (company_dir / "payroll").mkdir(parents=True, exist_ok=True)
        _write_csv(company_dir / "employees.csv", list(data.employees[0]), data.employees)
        for month, pay in data.payroll.items():
            _write_csv(company_dir / "payroll" / f"{month}.csv", list(pay[0]), pay)
        _write_csv(company_dir / "absences.csv", absence_fields, data.absences)
        if not (company_dir / "company.toml").is_file():
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
        f"{len(declarations)} declarations, {len(people)} employees: {len(events)} departures, {len(rows)} absences",
        err=True,
    )


@click.command()
@click.option(
    "--db", "demo_db", default="paybonus-demo.db", show_default=True, help="Where to leave the demo ledger."
)
@click.option(
    "--force", is_flag=True, help="Replace the ledger even if it holds other companies than the demo's."
)
@pass_state
def demo(state: State, demo_db: str, force: bool) -> None:
    """Run the shipped sample company: a fresh ledger, its payroll, a year of events, an audit check."""
    from paybonus.fixtures.demo import SAMPLE_COMPANIES, run_sample

    with state.app(demo_db, fresh_for=SAMPLE_COMPANIES, force=force) as app:
        r = run_sample(app)
    c = r.published.counts
    t = Table("scheme", "kind", "entitlements", "employees", "total")
    for scheme, kind, n, total, emps in r.summary:
        t.add_row(scheme, kind, str(n), str(emps), format_euros(total, french=True))
    out.print(
        f"published {c['events']} events ({c['completed']} dispatches completed, {c['failed']} failed)",
        markup=False,
    )
    out.print(t)
    out.print(
        f"audit: {'OK' if r.report.ok else 'FAILED'} ({r.report.entries} entries, {r.report.recomputed} amounts recomputed)",
        markup=False,
    )
    out.print(f"ledger left at {demo_db}; try: paybonus --db {demo_db} entitlements", markup=False)
    if not r.report.ok:
        raise VerificationFailed(str(r.report.problems[0]))


def _write_csv(path: Path, fields: list[str], rows: list[dict[str, str]]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
