"""The server deployment's commands: `paybonus worker`, `paybonus health`, `paybonus migrate`, `paybonus grant`
(docs/deploy.md)."""

from __future__ import annotations

import json

import click

from .. import logs
from ..errors import Interrupted, UserError, VerificationFailed
from ..store.sql import is_url, redacted
from .base import State, WholeNumber, err, ledger_name, out, pass_state
from .output import plural

log = logs.get_logger("paybonus.cli")


def _db(state: State, db: str | None) -> str:
    return db or state.db


@click.command(
    epilog="""\b
Examples:
  paybonus --log-format json worker --source nats://nats:4222 --db postgresql://paybonus@pg/paybonus
  paybonus worker --source 'nats://n1:4222,nats://n2:4222?stream=PAYBONUS&ack_wait=60' --db ...
Stops on SIGTERM or SIGINT once the current message is recorded (or left to be delivered again)."""
)
@click.option("--source", required=True, metavar="URL", help="Where the events come from (nats://...).")
@click.option(
    "--db", "db", metavar="URL|PATH", callback=ledger_name, help="The ledger (default: the global --db)."
)
@click.option("--id", "worker_id", help="This worker's name in logs (default: host-pid).")
@click.option(
    "--max-deliveries",
    type=WholeNumber(1, 1000),
    default=5,
    show_default=True,
    help="A message failing this many times goes to the dead letters (ledger and broker).",
)
@pass_state
def worker(state: State, source: str, db: str | None, worker_id: str | None, max_deliveries: int) -> None:
    """Record the events of a message broker, as they come, through the same bus as `publish`; many workers
    may share one broker and one PostgreSQL ledger. Messages are acknowledged after their commit."""
    from ..worker import Worker, broker_url, run, source_for

    source_for(state.host(), broker_url("--source", source))  # a bad URL or --id before the ledger is opened
    w = Worker(
        _db(state, db),
        state.host(),
        state.params(),
        worker_id=worker_id,
        max_deliveries=max_deliveries,
    )
    counts = run(w, source)
    out.print(
        f"worker {w.worker_id} stopped: {plural(counts.get('messages', 0), 'message')}, "
        f"{counts.get('recorded', 0)} recorded, {counts.get('duplicates', 0)} already known, "
        f"{counts.get('dead_letters', 0)} dead letters",
        markup=False,
    )


@click.command(
    epilog="""\b
Examples:
  paybonus health --source nats://nats:4222 --db postgresql://paybonus@pg/paybonus
Exit code 0 when the ledger and the broker answer, 1 otherwise (a liveness or readiness probe; a stream that does
not exist yet is reported, never made), 2 for a bad --source URL."""
)
@click.option("--source", required=True, metavar="URL", help="The broker workers read (nats://...).")
@click.option(
    "--db", "db", metavar="URL|PATH", callback=ledger_name, help="The ledger (default: the global --db)."
)
@pass_state
def health(state: State, source: str, db: str | None) -> None:
    """Whether the ledger and the broker answer, with the broker's backlog (pending, unacknowledged,
    redelivered messages) and the dead letters, as JSON."""
    from ..worker import broker_url
    from ..worker import health as check

    report = check(state.host(), broker_url("--source", source), _db(state, db))
    out.print(redacted(json.dumps(report, sort_keys=True)), markup=False)
    if not report["ok"]:
        why = [f"{side}: {report[side]['error']}" for side in ("source", "ledger") if "error" in report[side]]
        raise VerificationFailed(redacted("; ".join(why) or "the ledger or the broker does not answer"))


class _CopyRejected(Exception):
    """The copy did not verify: raised inside its transaction, which rolls back."""


@click.command(
    epilog="""\b
Examples:
  paybonus migrate paybonus.db postgresql://paybonus@pg/paybonus
The target must be an empty database; the copy is verified (audit verify, row counts, chain heads)."""
)
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.argument("target", metavar="POSTGRESQL_URL")
@pass_state
def migrate(state: State, source: str, target: str) -> None:
    """Copy a SQLite ledger into PostgreSQL and verify the copy, in one transaction: a copy that does not verify,
    or an interrupted one, is rolled back (the target keeps no row of it)."""
    from ..audit import verify
    from ..store import Ledger
    from ..store.copy import copy_ledger, row_counts

    if not is_url(target):
        raise UserError(target, "the target is a postgresql:// URL")
    where = redacted(target)
    problems: list[str] = []
    entries = 0

    def check(counts: dict[str, int]) -> None:  # inside the copy's transaction: a failure rolls it back
        nonlocal entries
        if row_counts(dst, list(counts)) != row_counts(src, list(counts)):
            problems.append("row counts differ")
        if dst.audit.heads() != src.audit.heads():
            problems.append("chain heads differ")
        rep = verify(dst, state.schemes(), params=state.params())
        problems.extend(str(p) for p in rep.problems)
        entries = rep.entries
        if problems:
            raise _CopyRejected

    counts: dict[str, int] = {}
    with Ledger.open(source) as src, Ledger.create(target) as dst:
        try:
            counts = copy_ledger(src, dst, check=check)
        except _CopyRejected:
            pass
        except KeyboardInterrupt:
            raise Interrupted(
                f"migrate: aborted; the copy into {where} was rolled back (the target holds no row of it): "
                "run the command again"
            ) from None
    log.info("migrate.finished", tables=len(counts), rows=sum(counts.values()), problems=len(problems))
    for p in problems[:20]:
        out.print(f"problem: {p}", markup=False)
    if problems:
        raise VerificationFailed(
            f"the copy in {where} does not verify ({problems[0]}): it was rolled back, the target holds no row "
            "of it; fix the source (`paybonus audit verify` on it), then run migrate again"
        )
    out.print(
        f"copied {plural(sum(counts.values()), 'row')} of {plural(len(counts), 'table')} into {redacted(target)}; "
        f"verified: {plural(entries, 'audit entry')}, same chain heads",
        markup=False,
    )


@click.command(
    epilog="""\b
Examples:
  paybonus --db postgresql://paybonus@pg/paybonus grant --writer paybonus_worker --reader paybonus_audit
  paybonus --db postgresql://paybonus@pg/paybonus grant --writer paybonus_worker --dry-run > grants.sql
Run it as the ledger's owner (the role of `paybonus init`), and again after an upgrade that adds tables.
Exit code 1 when a role may still do more than its grants (through PUBLIC or a role it belongs to)."""
)
@click.option(
    "--writer",
    metavar="ROLE",
    help="The role of the workers and of publish/load/retry: reads, records, updates only what the store updates.",
)
@click.option("--reader", metavar="ROLE", help="A role that only reads (reports, auditors, audit verify).")
@click.option("--dry-run", is_flag=True, help="Print the SQL (one transaction), grant nothing.")
@pass_state
def grant(state: State, writer: str | None, reader: str | None, dry_run: bool) -> None:
    """Give PostgreSQL roles exactly what they need in the ledger: the second lock of append-only history,
    beside the triggers. Roles that own nothing cannot truncate, alter a table or disable a trigger."""
    from ..store import Ledger, pg_grants

    if not writer and not reader:
        raise UserError("grant", "name a --writer role, a --reader role, or both")
    if not is_url(state.db):
        raise UserError(
            state.db, "grants are PostgreSQL's; a SQLite ledger is a file: its permissions say who writes"
        )
    if writer == reader:
        raise UserError("grant", "--writer and --reader name the same role")
    with Ledger.open(state.db) as ledger:
        assert ledger.server is not None  # a postgresql:// URL
        conn = ledger.server.conn
        objects = pg_grants.ledger_objects(conn)
        pg_grants.check_runner(conn, objects)
        plans = []
        for role, option, make in (
            (writer, "--writer", pg_grants.writer),
            (reader, "--reader", pg_grants.reader),
        ):
            if role:
                pg_grants.check_role(conn, role, option, objects)
                plans.append(make(role, objects))
        if dry_run:
            lines = [text for p in plans for text in pg_grants.as_text(pg_grants.statements(p), conn.raw)]
            out.print("\n".join(["BEGIN;", *lines, "COMMIT;"]), markup=False, highlight=False)
            return
        pg_grants.apply(conn, plans)
        excess = {p.role: pg_grants.excess(conn, p) for p in plans}
    log.info("grant.applied", writer=writer or "", reader=reader or "", excess=sum(map(len, excess.values())))
    for p in plans:
        for line in pg_grants.describe(p):
            out.print(line, markup=False, highlight=False)
    for role, found in excess.items():
        for what in found:
            err.print(
                f"warning: {role} may still {what} (through PUBLIC or a role it belongs to)", markup=False
            )
    if any(excess.values()):
        raise VerificationFailed("a role may do more than its grants: revoke it where it comes from")
