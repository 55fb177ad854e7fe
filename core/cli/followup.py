"""Commands for after the computation: deadlines, statements and their check, the payroll export."""

from __future__ import annotations

import os
from contextlib import closing
from datetime import date
from pathlib import Path
from typing import Any

import click

from .. import logs, signing
from ..app import parse_month
from ..deadlines import Item as DeadlineItem
from ..errors import UserError, VerificationFailed
from ..events import is_name_id
from ..outputs import check_dir, check_file, write_text
from .base import (
    State,
    SuggestingGroup,
    WholeNumber,
    err,
    out,
    parse_date,
    parse_period,
    pass_state,
    private_file,
)
from .output import MACHINE_FORMATS, Column, format_options, plural, render, write_machine

log = logs.get_logger("paybonus.cli")


DEADLINE_FIELDS = (
    "kind",
    "company",
    "entitlement",
    "employee",
    "scheme",
    "date",
    "days",
    "outstanding_cents",
)
DEADLINE_KINDS = ("overdue", "due", "option_window", "cdc_transfer")


@click.command(
    epilog="""\b
Examples:
  paybonus deadlines                          # as of today, and what falls due within 30 days
  paybonus deadlines --as-of 2026-06-01 --within 60 --company DURAND
  paybonus deadlines --check                  # the daily job (cron): logs and records new notices once"""
)
@click.option("--as-of", "as_of", help="Date to evaluate (YYYY-MM-DD); default today.")
@click.option(
    "--within",
    type=WholeNumber(0, 3660),
    default=30,
    show_default=True,
    help="Also list what falls due in this many days (at most 3660, ten years).",
)
@click.option("--company", help="Only this company.")
@click.option(
    "--check",
    is_flag=True,
    help="Daily job: log and record what has just become overdue or due for the Caisse des dépôts.",
)
@format_options()
@pass_state
def deadlines(
    state: State, as_of: str | None, within: int, company: str | None, check: bool, fmt: str
) -> None:
    """What falls due by a date and what is overdue, per company (LAW I-38, I-39, I-45): kind is overdue, due,
    option_window (the employee's choice closes) or cdc_transfer (a leaver's unclaimed sum)."""
    day = parse_date(as_of, "--as-of")
    with state.app() as app:
        if check:
            new = app.check_deadlines(day, company)
            out.print(f"{plural(len(new), 'new deadline notice')} as of {day}", markup=False)
            return
        if fmt in MACHINE_FORMATS:  # written as read: a large employer's 676 000 items are never held at once
            with closing(app.deadline_items(day, within, company)) as items:
                write_machine(map(_deadline_row, items), fmt, DEADLINE_FIELDS)
            return
        listed = app.deadlines(day, within, company)
    counts = {k: sum(i.kind == k for i in listed) for k in DEADLINE_KINDS}
    render(
        map(_deadline_row, listed),  # made as printed: the items are not held a second time as dicts
        fmt,
        DEADLINE_FIELDS,
        [
            Column("company"),
            Column("kind"),
            Column("date"),
            Column("days", right=True),
            Column("entitlement"),
            Column("employee"),
            Column("scheme"),
            Column("outstanding_cents", "outstanding", money=True),
        ],
        summary=f"as of {day}: " + ", ".join(f"{v} {k}" for k, v in counts.items()),
    )


def _deadline_row(i: DeadlineItem) -> dict[str, Any]:
    """A deadline item as the command prints it."""
    return {
        "kind": i.kind,
        "company": i.company,
        "entitlement": i.entitlement,
        "employee": i.employee,
        "scheme": i.scheme,
        "date": i.date.isoformat(),
        "days": i.days,
        "outstanding_cents": i.outstanding_cents,
    }


@click.command(
    epilog="""\b
Examples:
  paybonus statements --company DURAND --period 2025 --issued-on 2026-04-15 --channel email --out statements/
  paybonus statements --company DURAND --period 2025 --issued-on 2026-04-15 --channel post --format pdf \\
    --out st/ --events issued.jsonl"""
)
@click.option("--company", required=True, help="The company (its id in company.toml).")
@click.option("--period", required=True, help="The calculation period, e.g. 2025 or 2025-01-01..2025-12-31.")
@click.option("--scheme", default="interessement", show_default=True, help="An épargne salariale scheme.")
@click.option("--employee", help="Only this beneficiary.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "pdf"]),
    default="html",
    show_default=True,
    help="One HTML or PDF file per beneficiary.",
)
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), required=True, help="Folder for the statements."
)
@click.option(
    "--issued-on",
    "issued_on",
    required=True,
    help="Date of issue printed on the statements (YYYY-MM-DD), after the period ends; the 15-day choice runs "
    "from it.",
)
@click.option(
    "--channel",
    required=True,
    type=click.Choice(["email", "post", "hand", "portal"]),
    help="How the statements reach the employees: printed, and recorded in the events.",
)
@click.option(
    "--events",
    "events_out",
    type=click.Path(path_type=Path),
    help="Also write statement_issued events here (issue date and channel as given), to publish. An existing "
    "file is not replaced without --force.",
)
@click.option("--force", is_flag=True, help="Replace the --events file if it exists (by default, refuse to).")
@click.option(
    "--key",
    type=click.Path(path_type=Path),
    help="The ledger's signing key: each seal is then a signature (default $PAYBONUS_SIGNING_KEY).",
)
@click.option(
    "--jobs",
    type=WholeNumber(1, 256),
    help="PDFs laid out in this many processes at once (default: one per core; 1: none besides this one).",
)
@pass_state
def statements(
    state: State,
    company: str,
    period: str,
    scheme: str,
    employee: str | None,
    fmt: str,
    out_dir: Path,
    issued_on: str,
    channel: str,
    events_out: Path | None,
    force: bool,
    key: Path | None,
    jobs: int | None,
) -> None:
    """Individual statements (fiches distinctes, D3313-9), one file per beneficiary, in French."""
    p = parse_period(period)
    assert p is not None
    day = parse_date(issued_on, "--issued-on")
    from ..statements import check_issued_on  # the statements' modules load only for this command

    check_issued_on(p, day)  # before any work
    check_dir(out_dir, "--out")
    if force and events_out is None:
        raise UserError("--force", "only applies with --events FILE (it replaces that file)")
    if events_out is not None:
        check_file(events_out, "--events")
        # a previous run's events, not yet published, would be lost: refused before anything is written, as
        # `dsn --events` and `export --out` do
        if events_out.exists() and not force:
            raise UserError(
                str(events_out), "exists: it will not be replaced (choose another file, or add --force)"
            )
    signer = signing.load_key(key) if key or os.environ.get(signing.KEY_ENV, "").strip() else None
    with state.app() as app:
        built = app.statements(
            company, p, scheme, issued_on=day, channel=channel, employee=employee, key=signer
        )
    targets = [(st, out_dir / _statement_name(company, scheme, p.start, st.employee, fmt)) for st in built]
    if events_out is not None:  # the events would fail to be written after the statements, or replace one
        taken = {out_dir.resolve(): "the --out folder"} | {t.resolve(): "a statement" for _, t in targets}
        if events_out.resolve() in taken:
            raise UserError(
                f"--events {events_out}",
                f"is {taken[events_out.resolve()]} (--out {out_dir}): name another file",
            )
    if signer is None:
        err.print(
            "note: the statements are sealed, not signed: give --key (see `paybonus audit keygen`) so that anyone "
            "can check them with your public key",
            markup=False,
        )
    events = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        if fmt == "pdf":
            from ..statements.parallel import pdfs

            for (st, target), pdf in zip(targets, pdfs(built, jobs or os.cpu_count() or 1), strict=True):
                target.write_bytes(pdf)
                events += st.issued_events()
        else:
            for st, target in targets:
                target.write_text(st.html(), encoding="utf-8")
                events += st.issued_events()
    except OSError as exc:
        raise UserError(str(out_dir), f"cannot write the statements ({exc.strerror})") from None
    if events_out:
        try:
            write_text(events_out, "".join(e.to_json() + "\n" for e in events), "--events")
        except UserError as exc:
            raise UserError(
                exc.where, f"{exc.what}; the {plural(len(built), 'statement')} were written to {out_dir}"
            ) from None
    log.info("statements.written", company=company, scheme=scheme, count=len(built), channel=channel)
    out.print(
        f"{plural(len(built), 'statement')} written to {out_dir}"
        + (f"; events in {events_out}" if events_out else ""),
        markup=False,
    )


@click.group(cls=SuggestingGroup)
def notice() -> None:
    """Individual statements already issued: `paybonus notice verify FILE...`."""


@notice.command(
    "verify",
    epilog="""\b
Examples:
  paybonus notice verify statements/*.html
  paybonus notice verify --offline --public-key "$(cat durand.pub)" DURAND-interessement-20250101-E0007.pdf""",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--public-key",
    help="The company's public key (base64, or a file): the statements must be signed with it.",
)
@click.option("--offline", is_flag=True, help="Check the signature and the content only, without the ledger.")
@pass_state
def notice_verify(state: State, files: tuple[Path, ...], public_key: str | None, offline: bool) -> None:
    """Check statements: their signature, their content as printed, and the ledger entries they show (exit 1 if
    one does not match)."""
    from ..statements import verify_file

    trusted = signing.parse_public(public_key, "--public-key") if public_key else None
    bad = 0
    if offline:
        results = [verify_file(None, f, trusted) for f in files]
    else:
        with state.app() as app:
            results = [app.verify_statement(f, trusted) for f in files]
    for ok, line in results:
        (out if ok else err).print(line if ok else f"FAIL {line}", markup=False)
        bad += not ok
    if bad:
        raise VerificationFailed(
            f"{plural(bad, 'statement')} {'does' if bad == 1 else 'do'} not match the ledger"
        )


@click.command(
    epilog="""\b
Examples:
  paybonus export --payroll-month 2026-05 --out payroll-2026-05.csv
  paybonus export --company DURAND --scheme interessement --format json
  paybonus export --format tsv | column -t -s $'\\t'"""
)
@format_options(default="csv", formats=("csv", "tsv", "json", "jsonl"))
@click.option("--company", help="Only this company.")
@click.option("--scheme", help="Only this scheme.")
@click.option("--payroll-month", help="YYYY-MM: only what this payroll month pays.")
@click.option(
    "--as-of", "as_of", help="Date for the allocation of intéressement (YYYY-MM-DD); default today."
)
@click.option(
    "--out",
    "out_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="File to write, readable by its owner only, whole or not at all: written beside it, renamed over it once "
    "complete (default: standard output).",
)
@click.option("--force", is_flag=True, help="Replace the --out file if it exists.")
@pass_state
def export(
    state: State,
    fmt: str,
    company: str | None,
    scheme: str | None,
    payroll_month: str | None,
    as_of: str | None,
    out_file: Path | None,
    force: bool,
) -> None:
    """Entitlements for the payroll, one row each with their DSN codes (docs/export.md). Amounts are integer
    cents; booleans are true/false."""
    from ..export import COLUMNS

    parse_month(payroll_month, "--payroll-month")
    if force and out_file is None:
        raise UserError("--force", "only applies with --out FILE (it replaces that file)")
    day = parse_date(as_of, "--as-of")  # before the ledger opens (opening may upgrade it)
    if out_file is not None:
        check_file(out_file, "--out")
        if out_file.exists() and not force:
            raise UserError(
                str(out_file), "exists: it will not be replaced (choose another file, or add --force)"
            )
        folder = Path(os.path.realpath(out_file)).parent
        replaced = (
            not out_file.exists() or Path(os.path.realpath(out_file)).is_file()
        )  # not a pipe or a device
        if replaced and not os.access(folder, os.W_OK | os.X_OK):  # written beside its target, then renamed
            raise UserError(f"--out {out_file}", f"cannot be written: {folder} is not writable")
    with state.app() as app, closing(app.export_rows(day, company, scheme, payroll_month)) as rows:
        # closed before the ledger is, when the output stops early (a reader gone: `export | head`)
        if out_file is None:
            write_machine(rows, fmt, COLUMNS)  # row by row: a payroll of 200 000 people is never held at once
            return
        with private_file(out_file) as f:  # renamed over --out only once complete
            count = write_machine(rows, fmt, COLUMNS, file=f)
    out.print(f"{plural(count, 'row')} written to {out_file}", markup=False)


def _statement_name(company: str, scheme: str, start: date, employee: str, fmt: str) -> str:
    """A statement's file name: one plain name inside --out, whatever the ids hold (refused otherwise)."""
    name = f"{company}-{scheme}-{start:%Y%m%d}-{employee}.{fmt}"
    if not is_name_id(company) or not is_name_id(employee) or "/" in name or "\\" in name:
        raise UserError(
            f"employee {employee!r:.80}", "its id cannot name a file inside --out (letters, digits, ._-)"
        )
    return name
