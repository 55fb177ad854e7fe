"""The `paybonus` command. Exit codes: 0 done, 1 verification failed, 2 user error (one line, nothing written)."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import click
import structlog
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from . import audit, logs
from ._version import __version__
from .bus import EventBus
from .calendar import Period
from .config import check_schemes_known, scheme_config
from .errors import PaybonusError, PluginError, UserError
from .host import PluginHost, load_plugins
from .money import format_euros
from .params import Parameters
from .sources import read_company_dir, store_company
from .store import Ledger

log = structlog.get_logger("paybonus.cli")
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True)


class VerificationFailed(Exception):
    """Exit code 1: the command ran, and what it checked is wrong."""


class State:
    """What every command reads: the ledger path, the plugin host (loaded once) and the legal parameters.

    Commands added by plugins (`paybonus_register_commands`) get it as `click.get_current_context().obj`.
    """

    def __init__(
        self, db: str, strict_plugins: bool, params_file: str | None, host: PluginHost | None = None
    ) -> None:
        self.db = db
        self.strict_plugins = strict_plugins
        self.params_file = params_file
        self._host = host
        self._warned = False

    def host(self) -> PluginHost:
        if self._host is None:
            self._host = load_plugins(strict=self.strict_plugins)
        if not self._warned:
            self._warned = True
            for f in self._host.failures:
                err.print(f"warning: plugin {f.name} was not loaded ({f.error})", markup=False)
        return self._host

    def params(self) -> Parameters:
        p = Parameters.default()
        return p.with_file(Path(self.params_file)) if self.params_file else p

    @contextmanager
    def ledger(self) -> Iterator[Ledger]:
        ledger = Ledger.open(self.db)
        try:
            yield ledger
        finally:
            ledger.close()

    def bus(self, ledger: Ledger) -> EventBus:
        return EventBus(ledger, self.host(), self.params())

    def fresh_ledger(self, path: str) -> None:
        """Start over at `path` (a demo's ledger): remove it with its WAL files, create it, use it."""
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)
        self.db = path
        Ledger.create(path).close()


pass_state = click.make_pass_decorator(State)
HOST_KEY = "paybonus.host"


class PaybonusGroup(click.Group):
    """The built-in commands, and those plugins add (loaded only when asked for)."""

    def _plugin_commands(self, ctx: click.Context) -> dict[str, click.Command]:
        host = ctx.meta.get(HOST_KEY)
        if host is None:
            logs.configure(
                ctx.params.get("log_format") or "console", ctx.params.get("log_level") or "warning"
            )
            host = ctx.meta[HOST_KEY] = load_plugins(strict=bool(ctx.params.get("strict_plugins")))
        for name in host.commands:
            if name in self.commands:
                raise PluginError(f"a plugin adds the command {name!r}, which is a built-in command")
        return dict(host.commands)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._plugin_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or self._plugin_commands(ctx).get(cmd_name)


@click.group(
    cls=PaybonusGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.version_option(__version__, prog_name="paybonus")
@click.option(
    "--db",
    default=lambda: os.environ.get("PAYBONUS_DB", "paybonus.db"),
    show_default="paybonus.db or $PAYBONUS_DB",
    help="Ledger file.",
)
@click.option("--log-format", type=click.Choice(["console", "json"]), default="console", show_default=True)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="warning",
    show_default=True,
)
@click.option("--strict-plugins", is_flag=True, help="A plugin that fails to load is fatal.")
@click.option(
    "--params", "params_file", type=click.Path(dir_okay=False), help="Extra dated legal parameters (TOML)."
)
@click.pass_context
def cli(
    ctx: click.Context,
    db: str,
    log_format: str,
    log_level: str,
    strict_plugins: bool,
    params_file: str | None,
) -> None:
    """paybonus: French employee bonuses, computed from events and recorded in a verifiable ledger."""
    logs.configure(log_format, log_level)
    ctx.obj = State(db, strict_plugins, params_file, ctx.meta.get(HOST_KEY))


@cli.command()
@pass_state
def init(state: State) -> None:
    """Create the ledger (or upgrade an older one)."""
    existed = Path(state.db).is_file()
    Ledger.create(state.db).close()
    out.print(f"ledger {'upgraded' if existed else 'created'}: {state.db}", markup=False)


@cli.command()
@click.argument("company_dir", type=click.Path(path_type=Path))
@pass_state
def load(state: State, company_dir: Path) -> None:
    """Load a company directory: company.toml, employees.csv, payroll/YYYY-MM.csv, absences.csv."""
    data = read_company_dir(company_dir)
    host = state.host()
    where = str(company_dir / "company.toml")
    check_schemes_known(data.config, host.schemes, where)
    for name in data.config.schemes:
        scheme_config(data.config, host.schemes[name], where)
    with state.ledger() as ledger:
        head = store_company(ledger, data)
    employees = len({c[0] for c in data.contracts})
    log.info(
        "company.loaded", company=data.config.info.id, employees=employees, pay_lines=len(data.pay_lines)
    )
    log.info("audit.chain.head", seq=head.seq, hash=head.hash)
    out.print(
        f"loaded {data.config.info.id}: {employees} employees, {len(data.pay_lines)} pay lines, "
        f"{len(data.absences)} absences, schemes: {', '.join(data.config.schemes) or 'none'}",
        markup=False,
    )


def _publish(state: State, ledger: Ledger, path: str, lines: list[str]) -> dict[str, int]:
    bus = state.bus(ledger)
    admitted = bus.admit(bus.host.event_types.read_jsonl(path, lines))
    with _progress("publishing", len(admitted.events)) as advance:
        outcomes = bus.publish_all(admitted, on_progress=advance)
    bus.close()
    counts = {
        "events": len(outcomes),
        "recorded": 0,
        "duplicates": 0,
        "completed": 0,
        "failed": 0,
        "entitlements": 0,
    }
    for o in outcomes:
        counts["duplicates" if o.duplicate else "recorded"] += 1
        for d in o.dispatches:
            counts[d.status] += 1
            counts["entitlements"] += d.entitlements
    head = ledger.audit.head()
    log.info("publish.finished", **counts)
    log.info("audit.chain.head", seq=head.seq, hash=head.hash)
    return counts


@cli.command()
@click.argument("events_file", type=click.Path(allow_dash=True))
@pass_state
def publish(state: State, events_file: str) -> None:
    """Publish events from a JSON-lines file (- for standard input)."""
    lines = _read_lines(events_file)
    with state.ledger() as ledger:
        c = _publish(state, ledger, events_file, lines)
    out.print(
        f"{c['events']} events: {c['recorded']} recorded, {c['duplicates']} already known; "
        f"dispatches: {c['completed']} completed, {c['failed']} failed; {c['entitlements']} entitlements",
        markup=False,
    )
    if c["failed"]:
        err.print("some dispatches failed: see `paybonus failures`, fix, then `paybonus retry`", markup=False)


@cli.command()
@click.option("--company")
@click.option("--scheme")
@click.option("--employee")
@click.option("--period", help="YYYY, YYYY-MM or YYYY-MM-DD..YYYY-MM-DD: entitlements overlapping it.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True
)
@pass_state
def entitlements(
    state: State, company: str | None, scheme: str | None, employee: str | None, period: str | None, fmt: str
) -> None:
    """List recorded entitlements."""
    p = _period(period)
    with state.ledger() as ledger:
        rows = ledger.entitlements.rows(company, scheme, p, employee)
    cols = (
        "id",
        "company",
        "scheme",
        "employee",
        "period_start",
        "period_end",
        "kind",
        "amount_cents",
        "due_date",
        "status",
        "dsn_block",
        "dsn_code",
        "social_regime",
        "corrects",
        "event_id",
    )
    if fmt == "json":
        for r in rows:
            click.echo(json.dumps({c: r[c] for c in cols}, ensure_ascii=False))
    elif fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(cols)
        w.writerows([[r[c] for c in cols] for r in rows])
        click.echo(buf.getvalue(), nl=False)
    else:
        t = Table("id", "company", "scheme", "employee", "period", "kind", "amount", "due", "status")
        for r in rows:
            t.add_row(
                r["id"],
                r["company"],
                r["scheme"],
                r["employee"],
                f"{r['period_start']}..{r['period_end']}",
                r["kind"],
                format_euros(r["amount_cents"]),
                r["due_date"] or "",
                r["status"],
            )
        out.print(t)
        out.print(
            f"{len(rows)} entitlements, total {format_euros(sum(r['amount_cents'] for r in rows))}",
            markup=False,
        )


@cli.command()
@click.argument("entitlement_id")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@pass_state
def explain(state: State, entitlement_id: str, fmt: str) -> None:
    """Show why an entitlement is what it is, and recompute it from its stored explanation."""
    from paybonus.hooks.types import Explanation

    with state.ledger() as ledger:
        row = ledger.entitlements.get(entitlement_id)
        if row is None:
            raise UserError("explain", f"no entitlement {entitlement_id!r} in {state.db}")
        expl = json.loads(row["explanation"])
        scheme = state.host().schemes.get(row["scheme"])
        recomputed = scheme.recompute(Explanation.from_dict(expl)) if scheme else None
    if fmt == "json":
        click.echo(
            json.dumps(
                {**{k: row[k] for k in row}, "explanation": expl, "recomputed_cents": recomputed},
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    out.print(
        f"{row['id']}  {row['scheme']} {row['scheme_version']}  {row['company']} / {row['employee']}",
        markup=False,
    )
    out.print(
        f"period {row['period_start']}..{row['period_end']}  kind {row['kind']}  status {row['status']}",
        markup=False,
    )
    out.print(
        f"amount {format_euros(row['amount_cents'])} EUR  due {row['due_date'] or '-'}  "
        f"DSN {row['dsn_block']} {row['dsn_code']}  regime {row['social_regime']}",
        markup=False,
    )
    if row["corrects"]:
        out.print(f"relates to {row['corrects']}", markup=False)
    out.print(f"caused by event {row['event_id']}", markup=False)
    out.print("rules: " + ", ".join(expl.get("rules", [])), markup=False)
    for section in ("inputs", "parameters"):
        out.print(f"{section}:", markup=False)
        for k, v in expl.get(section, {}).items():
            out.print(f"  {k} = {json.dumps(v, ensure_ascii=False)}", markup=False)
    out.print("steps:", markup=False)
    for i, s in enumerate(expl.get("steps", []), 1):
        out.print(f"  {i}. {s}", markup=False)
    if recomputed is None:
        out.print(f"cannot recompute: scheme {row['scheme']} is not installed", markup=False)
    else:
        same = "matches" if recomputed == row["amount_cents"] else "DIFFERS"
        out.print(f"recomputed from the explanation: {format_euros(recomputed)} ({same})", markup=False)


@cli.group("audit")
def audit_() -> None:
    """The audit trail."""


@audit_.command("verify")
@click.option("--expect-head", help="Hash the chain head must have (from the logs or an earlier verify).")
@pass_state
def audit_verify(state: State, expect_head: str | None) -> None:
    """Walk the hash chain, check events and entitlements against it, recompute every amount."""
    with state.ledger() as ledger:
        rep = audit.verify(ledger, state.host().schemes, expect_head=expect_head)
    log.info(
        "audit.verified",
        ok=rep.ok,
        entries=rep.entries,
        problems=len(rep.problems),
        seq=rep.head.seq,
        hash=rep.head.hash,
    )
    out.print(
        f"audit: {rep.entries} entries, {rep.events} events, {rep.entitlements} entitlements "
        f"({rep.recomputed} recomputed); head {rep.head.seq} {rep.head.hash}",
        markup=False,
    )
    if not rep.ok:
        for p in rep.problems:
            err.print(f"FAIL {p}", markup=False)
        raise VerificationFailed(f"first problem: {rep.problems[0]}")
    out.print("audit: OK", markup=False)


@cli.command()
@pass_state
def plugins(state: State) -> None:
    """List loaded plugins: name, version, hooks, distribution, schemes."""
    host = state.host()
    t = Table("plugin", "version", "distribution", "hooks", "schemes")
    for p in host.plugin_infos():
        t.add_row(
            p.name,
            p.version,
            p.distribution,
            ", ".join(h.removeprefix("paybonus_") for h in p.hooks),
            ", ".join(p.schemes),
        )
    out.print(t)
    for name in sorted(host.schemes):
        s = host.schemes[name]
        out.print(
            f"scheme {s.name} {s.version}: {s.label}; handles {', '.join(sorted(s.handles))}; "
            f"DSN {s.dsn.block} {s.dsn.code}; {s.social_regime}",
            markup=False,
        )
    for f in host.failures:
        out.print(f"not loaded: {f.name} ({f.error})", markup=False)


@cli.command()
@pass_state
def failures(state: State) -> None:
    """List failed dispatches (dead letters) with their error."""
    with state.ledger() as ledger:
        rows = ledger.dispatches.failed()
    for r in rows:
        out.print(
            f"{r['event_id']} -> {r['scheme']} (attempt {r['attempts']}, {r['updated_at']}): {r['error']}",
            markup=False,
        )
    out.print(f"{len(rows)} failed dispatches", markup=False)


@cli.command()
@click.option("--event", "event_id", help="Only this event.")
@click.option("--scheme", help="Only this scheme.")
@pass_state
def retry(state: State, event_id: str | None, scheme: str | None) -> None:
    """Run failed (and never-started) dispatches again."""
    with state.ledger() as ledger:
        bus = state.bus(ledger)
        outcomes = bus.retry(event_id, scheme)
        bus.close()
    ok = sum(o.status == "completed" for o in outcomes)
    out.print(
        f"retried {len(outcomes)} dispatches: {ok} completed, {len(outcomes) - ok} failed", markup=False
    )
    if len(outcomes) - ok:
        raise VerificationFailed("some dispatches still fail: see `paybonus failures`")


@cli.command()
@click.option(
    "--db", "demo_db", default="paybonus-demo.db", show_default=True, help="Where to leave the demo ledger."
)
@click.pass_context
def demo(ctx: click.Context, demo_db: str) -> None:
    """Run the shipped sample company: a fresh ledger, its payroll, a year of events, an audit check."""
    from paybonus.fixtures import sample_dir

    state: State = ctx.obj
    state.fresh_ledger(demo_db)
    company_dir = sample_dir()
    ctx.invoke(load, company_dir=company_dir)
    events_path = company_dir / "events.jsonl"
    with state.ledger() as ledger:
        c = _publish(state, ledger, str(events_path), _read_lines(str(events_path)))
        rep = audit.verify(ledger, state.host().schemes)
        summary = ledger.entitlements.summary()
    t = Table("scheme", "kind", "entitlements", "employees", "total")
    for scheme, kind, n, total, emps in summary:
        t.add_row(scheme, kind, str(n), str(emps), format_euros(total or 0, french=True))
    out.print(
        f"published {c['events']} events ({c['completed']} dispatches completed, {c['failed']} failed)",
        markup=False,
    )
    out.print(t)
    out.print(
        f"audit: {'OK' if rep.ok else 'FAILED'} ({rep.entries} entries, {rep.recomputed} amounts recomputed)",
        markup=False,
    )
    out.print(f"ledger left at {demo_db}; try: paybonus --db {demo_db} entitlements", markup=False)
    if not rep.ok:
        raise VerificationFailed(str(rep.problems[0]))


# -- helpers ------------------------------------------------------------------------------------------------


@contextmanager
def _progress(label: str, total: int) -> Iterator[Any]:
    if total < 50 or not err.is_terminal:
        yield lambda _n: None
        return
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as p:
        task = p.add_task(label, total=total)
        yield lambda n: p.update(task, completed=n)


def _read_lines(path: str) -> list[str]:
    if path == "-":
        return sys.stdin.read().splitlines()
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().splitlines()
    except OSError as exc:
        raise UserError(path, f"cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise UserError(path, "not UTF-8 text") from None


def _date(text: str | None, where: str) -> date:
    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(where, f"expected a date YYYY-MM-DD, got {text!r}") from None


def _period(text: str | None) -> Period | None:
    if text is None:
        return None
    try:
        return Period.parse(text)
    except ValueError as exc:
        raise UserError("--period", str(exc)) from None


_BREAKS = {0x7F, 0x85, 0x2028, 0x2029}  # besides C0 controls, what str.splitlines() breaks a line on
MAX_ERROR = 400


def _error(message: str) -> None:
    """One line on stderr: control and line-break characters are shown escaped, and a huge value is cut."""
    line = "".join(f"\\x{ord(ch):02x}" if ord(ch) < 32 or ord(ch) in _BREAKS else ch for ch in message)
    if len(line) > MAX_ERROR:
        line = line[:MAX_ERROR] + "... (cut)"
    err.print(f"error: {line}", markup=False, soft_wrap=True)


def _register_commands() -> None:
    """The other command modules add themselves to the `cli` group when imported."""
    from . import cli_followup, cli_tools  # noqa: F401


_register_commands()


def main(argv: list[str] | None = None) -> int:
    """Entry point: maps errors to exit codes and one line on stderr, never a traceback for a user's mistake."""
    try:
        cli.main(args=argv, prog_name="paybonus", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        _error("aborted")
        return 2
    except click.UsageError as exc:
        _error(exc.format_message())
        return 2
    except click.ClickException as exc:
        _error(exc.format_message())
        return 2
    except (UserError, PluginError) as exc:
        _error(str(exc))
        return 2
    except VerificationFailed as exc:
        _error(str(exc))
        return 1
    except PaybonusError as exc:  # pragma: no cover - an unexpected internal condition: still one line
        _error(str(exc))
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
