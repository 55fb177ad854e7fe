"""Commands that fill the ledger: init, load, publish, failures, retry."""

from __future__ import annotations

from pathlib import Path

import click

from .. import logs
from ..app import read_company
from ..errors import Interrupted, UserError, VerificationFailed
from ..store import Ledger
from ..store.sql import redacted
from .base import State, WholeNumber, out, pass_state, read_lines_text
from .output import Column, format_options, plural, progress, render

log = logs.get_logger("paybonus.cli")


@click.command(
    epilog="""\b
Examples:
  paybonus init                      # paybonus.db here, or $PAYBONUS_DB
  paybonus --db /srv/paybonus/acme.db init"""
)
@pass_state
def init(state: State) -> None:
    """Create the ledger (readable by its owner only), or upgrade one made by an older paybonus."""
    existed = Path(state.db).is_file() and Path(state.db).stat().st_size > 0
    ledger = Ledger.create(state.db)
    applied = ledger.migrated
    ledger.close()
    if ledger.server is not None:  # a PostgreSQL ledger is new when its first migration was applied just now
        existed = "m001_initial" not in applied
    where = redacted(state.db)
    if not existed:
        out.print(f"ledger created: {where}", markup=False)
    elif applied:
        out.print(f"ledger upgraded: {where} (applied {', '.join(applied)})", markup=False)
    else:
        out.print(f"ledger already up to date: {where}", markup=False)


@click.command(
    epilog="""\b
Examples:
  paybonus load acme/                # acme/company.toml, employees.csv, payroll/*.csv, absences.csv
  paybonus --db acme.db load acme/   # loading again replaces the company's payroll inputs"""
)
@click.argument("company_dir", type=click.Path(path_type=Path))
@pass_state
def load(state: State, company_dir: Path) -> None:
    """Load a company directory: company.toml, employees.csv, payroll/YYYY-MM.csv, absences.csv
    (docs/data-format.md). Loading a company again replaces its payroll inputs; its history stays."""
    payroll = company_dir / "payroll"
    files = 3 + (len(list(payroll.glob("*.csv"))) if payroll.is_dir() else 0)
    with progress(f"loading {company_dir}", files + 1) as advance:
        done = 0

        def read_one(_path: Path) -> None:
            nonlocal done
            done += 1
            advance(done)

        data = read_company(company_dir, state.host(), on_file=read_one)  # refused before the ledger opens
        advance(files)
        with state.app() as app:
            s = app.load_company(data)
        advance(files + 1)
    log.info("company.loaded", company=s.company, employees=s.employees, pay_lines=s.pay_lines)
    log.info("audit.chain.head", company=s.company, n=s.head.n, hash=s.head.hash)
    out.print(
        f"loaded {s.company}: {plural(s.employees, 'employee')}, {plural(s.pay_lines, 'pay line')}, "
        f"{plural(s.absences, 'absence')}, schemes: {', '.join(s.schemes) or 'none'}",
        markup=False,
    )
    for scheme, earlier in s.added:
        out.print(
            f"note: {scheme} is new for {s.company}: it applies to the events published from now on, not to the "
            f"{plural(earlier, 'earlier event')} of its types (`paybonus retry --scheme {scheme} --backfill` "
            "runs it on them)",
            markup=False,
        )


RETRY_HINT = "see `paybonus failures`, fix the cause (a plugin, a configuration), then run `paybonus retry`"


@click.command(
    epilog="""\b
Examples:
  paybonus publish events.jsonl
  payroll-export --events | paybonus publish -     # from standard input
  paybonus publish --to nats://nats:4222 events.jsonl   # to the broker: `paybonus worker`s record them
Exit code 1 while a dispatch is failed (a dead letter): see `paybonus failures`, then `paybonus retry`."""
)
@click.argument("events_file", type=click.Path(allow_dash=True))
@click.option(
    "--to",
    "to",
    metavar="URL",
    help="Send the events to a message broker (nats://...) for `paybonus worker`s, instead of the ledger.",
)
@click.option(
    "--per-message",
    type=WholeNumber(1, 10_000),
    default=64,
    show_default=True,
    help="With --to: one company's events sent together in one message (a worker records them as one batch).",
)
@pass_state
def publish(state: State, events_file: str, to: str | None, per_message: int) -> None:
    """Publish events from a JSON-lines file (- for standard input): each is recorded once, then every scheme
    that handles it computes (docs/events.md). Publishing a file again changes nothing."""
    if (
        to is None
        and click.get_current_context().get_parameter_source("per_message")
        != click.core.ParameterSource.DEFAULT
    ):
        raise UserError("--per-message", "only applies with --to (events sent to a broker)")
    text = read_lines_text(events_file)
    if to is not None:  # an empty --to is an error, never the local ledger
        from ..worker import broker_url, feed

        to = broker_url("--to", to)
        pairs = state.host().event_types.read_jsonl(events_file, text)
        sent = feed(state.host(), to, [e for _, e in pairs], per_message)
        log.info("publish.sent", events=sent)
        out.print(f"{plural(sent, 'event')} sent to {redacted(to)}", markup=False)
        return
    with state.app() as app:
        events = app.read_events(events_file, text)
        done = 0
        with progress("publishing", len(events)) as advance:

            def count(n: int) -> None:
                nonlocal done
                done = n
                advance(n)

            try:
                summary = app.publish(events, on_progress=count)
            except KeyboardInterrupt:
                raise Interrupted(
                    f"publish: aborted; {done} of the {plural(len(events), 'event')} of {events_file} were "
                    "recorded and computed (or already known) before the interruption; the one in progress may be "
                    "recorded with its schemes not yet run: publishing the file again completes it"
                ) from None
        still_failed = len(app.failures())
    c = summary.counts
    log.info("publish.finished", **c)
    for company, head in summary.heads.items():
        log.info("audit.chain.head", company=company, n=head.n, hash=head.hash)
    out.print(
        f"{plural(c['events'], 'event')}: {c['recorded']} recorded, {c['duplicates']} already known; "
        f"dispatches: {c['completed']} completed, {c['failed']} failed; {plural(c['entitlements'], 'entitlement')}",
        markup=False,
    )
    if still_failed:
        raise VerificationFailed(f"{plural(still_failed, 'dispatch')} failed: {RETRY_HINT}")


FAILURE_FIELDS = ("company", "event_id", "scheme", "attempts", "updated_at", "error")


@click.command(
    epilog="""\b
Examples:
  paybonus failures
  paybonus failures --check          # in a monitoring job: exit 1 while there is a dead letter
  paybonus failures --format json"""
)
@format_options()
@click.option("--check", is_flag=True, help="Exit 1 if there is any failed dispatch (for monitoring).")
@pass_state
def failures(state: State, fmt: str, check: bool) -> None:
    """List failed dispatches (dead letters) with their error; `paybonus retry` runs them again."""
    with state.app() as app:
        found = app.failures()
    rows = [{f: getattr(x, f) for f in FAILURE_FIELDS} for x in found]
    render(
        rows,
        fmt,
        FAILURE_FIELDS,
        [
            Column("company"),
            Column("event_id", "event"),
            Column("scheme"),
            Column("attempts", right=True),
            Column("updated_at", "last attempt"),
            Column("error"),
        ],
        summary=f"{plural(len(rows), 'failed dispatch')}" + (f": {RETRY_HINT}" if rows else ""),
    )
    if check and rows:
        raise VerificationFailed(f"{plural(len(rows), 'failed dispatch')}: {RETRY_HINT}")


@click.command(
    epilog="""\b
Examples:
  paybonus retry
  paybonus retry --scheme interessement
  paybonus retry --event 2025-12-close
  paybonus retry --event close-2026-01 --company DURAND
  paybonus retry --scheme prime_panier --backfill   # a scheme added later, on the earlier events"""
)
@click.option("--event", "event_id", help="Only the dispatches of this event id.")
@click.option(
    "--company",
    help="Only the dispatches of this company's events (needed with --event when several companies use that id).",
)
@click.option("--scheme", help="Only the dispatches to this scheme.")
@click.option(
    "--backfill",
    is_flag=True,
    help="Also run the schemes a later `load` added on the events recorded before it (not owed otherwise).",
)
@pass_state
def retry(
    state: State, event_id: str | None, company: str | None, scheme: str | None, backfill: bool
) -> None:
    """Run failed (and never-started) dispatches again. Exit 1 if one still fails."""
    with state.app() as app:
        app.check_filters(company=company, scheme=scheme, event=event_id)
        outcomes = app.retry(event_id, scheme, company, backfill)
    ok = sum(o.status == "completed" for o in outcomes)
    out.print(
        f"retried {plural(len(outcomes), 'dispatch')}: {ok} completed, {len(outcomes) - ok} failed",
        markup=False,
    )
    if len(outcomes) - ok:
        raise VerificationFailed("some dispatches still fail: see `paybonus failures`")
