"""Commands that read the ledger: entitlements, explain, audit verify, plugins."""

from __future__ import annotations

import csv
import io
import json

import click
from rich.table import Table

from .. import logs
from ..money import format_euros
from .base import State, out, parse_period, pass_state

log = logs.get_logger("paybonus.cli")

COLUMNS = (
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


@click.command()
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
    p = parse_period(period)
    with state.app() as app:
        rows = app.entitlement_rows(company, scheme, p, employee)
    if fmt == "json":
        for r in rows:
            click.echo(json.dumps({c: r[c] for c in COLUMNS}, ensure_ascii=False))
    elif fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(COLUMNS)
        w.writerows([[r[c] for c in COLUMNS] for r in rows])
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


@click.command()
@click.argument("entitlement_id")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@pass_state
def explain(state: State, entitlement_id: str, fmt: str) -> None:
    """Show why an entitlement is what it is, and recompute it from its stored explanation."""
    with state.app() as app:
        x = app.explain(entitlement_id)
    if fmt == "json":
        click.echo(json.dumps(x.to_dict(), ensure_ascii=False, indent=2))
        return
    row, expl = x.row, x.entitlement.explanation
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
    out.print("rules: " + ", ".join(expl.rules), markup=False)
    for section, values in (("inputs", expl.inputs), ("parameters", expl.parameters)):
        out.print(f"{section}:", markup=False)
        for k, v in values.items():
            out.print(f"  {k} = {json.dumps(v, ensure_ascii=False)}", markup=False)
    out.print("steps:", markup=False)
    for i, s in enumerate(expl.steps, 1):
        out.print(f"  {i}. {s}", markup=False)
    if x.recomputed_cents is None:
        out.print(f"cannot recompute: scheme {row['scheme']} is not installed", markup=False)
    else:
        same = "matches" if x.recomputed_cents == row["amount_cents"] else "DIFFERS"
        out.print(
            f"recomputed from the explanation: {format_euros(x.recomputed_cents)} ({same})", markup=False
        )


@click.command()
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
            f"scheme {s.name} {s.version}: {s.label}; handles {', '.join(sorted(s.handlers))}; "
            f"DSN {s.dsn.block} {s.dsn.code}; {s.social_regime}",
            markup=False,
        )
    for f in host.failures:
        out.print(f"not loaded: {f.name} ({f.error})", markup=False)
