"""Commands that fill the ledger: init, load, publish, failures, retry."""

from __future__ import annotations

from pathlib import Path

import click

from .. import logs
from ..app import read_company
from ..errors import VerificationFailed
from ..store import Ledger
from .base import State, err, out, pass_state, progress, read_lines_text

log = logs.get_logger("paybonus.cli")


@click.command()
@pass_state
def init(state: State) -> None:
    """Create the ledger (or upgrade an older one)."""
    existed = Path(state.db).is_file()
    ledger = Ledger.create(state.db)
    ledger.close()
    out.print(f"ledger {'upgraded' if existed else 'created'}: {state.db}", markup=False)


@click.command()
@click.argument("company_dir", type=click.Path(path_type=Path))
@pass_state
def load(state: State, company_dir: Path) -> None:
    """Load a company directory: company.toml, employees.csv, payroll/YYYY-MM.csv, absences.csv."""
    data = read_company(company_dir, state.host())  # refused before the ledger is even opened
    with state.app() as app:
        s = app.load_company(data)
    log.info("company.loaded", company=s.company, employees=s.employees, pay_lines=s.pay_lines)
    log.info("audit.chain.head", company=s.company, n=s.head.n, hash=s.head.hash)
    out.print(
        f"loaded {s.company}: {s.employees} employees, {s.pay_lines} pay lines, {s.absences} absences, "
        f"schemes: {', '.join(s.schemes) or 'none'}",
        markup=False,
    )


@click.command()
@click.argument("events_file", type=click.Path(allow_dash=True))
@pass_state
def publish(state: State, events_file: str) -> None:
    """Publish events from a JSON-lines file (- for standard input)."""
    text = read_lines_text(events_file)
    with state.app() as app:
        events = app.read_events(events_file, text)
        with progress("publishing", len(events)) as advance:
            summary = app.publish(events, on_progress=advance)
    c = summary.counts
    log.info("publish.finished", **c)
    for company, head in summary.heads.items():
        log.info("audit.chain.head", company=company, n=head.n, hash=head.hash)
    out.print(
        f"{c['events']} events: {c['recorded']} recorded, {c['duplicates']} already known; "
        f"dispatches: {c['completed']} completed, {c['failed']} failed; {c['entitlements']} entitlements",
        markup=False,
    )
    if c["failed"]:
        err.print("some dispatches failed: see `paybonus failures`, fix, then `paybonus retry`", markup=False)


@click.command()
@pass_state
def failures(state: State) -> None:
    """List failed dispatches (dead letters) with their error."""
    with state.app() as app:
        found = app.failures()
    for f in found:
        out.print(
            f"{f.event_id} -> {f.scheme} (attempt {f.attempts}, {f.updated_at}): {f.error}", markup=False
        )
    out.print(f"{len(found)} failed dispatches", markup=False)


@click.command()
@click.option("--event", "event_id", help="Only this event.")
@click.option("--scheme", help="Only this scheme.")
@pass_state
def retry(state: State, event_id: str | None, scheme: str | None) -> None:
    """Run failed (and never-started) dispatches again."""
    with state.app() as app:
        outcomes = app.retry(event_id, scheme)
    ok = sum(o.status == "completed" for o in outcomes)
    out.print(
        f"retried {len(outcomes)} dispatches: {ok} completed, {len(outcomes) - ok} failed", markup=False
    )
    if len(outcomes) - ok:
        raise VerificationFailed("some dispatches still fail: see `paybonus failures`")
