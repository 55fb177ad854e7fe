"""Commands that read the ledger: entitlements, explain, audit verify, plugins."""

from __future__ import annotations

import json

import click

from .. import logs
from .base import State, out, parse_period, pass_state
from .output import Column, euros, format_options, plural, render

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
TABLE = (
    Column("id"),
    Column("company"),
    Column("scheme"),
    Column("employee"),
    Column("period", value=lambda r: f"{r['period_start']}..{r['period_end']}"),
    Column("kind"),
    Column("amount_cents", "amount", money=True),
    Column("due_date", "due"),
    Column("status"),
)


@click.command(
    epilog="""\b
Examples:
  paybonus entitlements --company DURAND --scheme interessement --period 2025
  paybonus entitlements --employee E007 --format json
  paybonus entitlements --format csv > entitlements.csv
  paybonus entitlements --nl | jq .amount_cents"""
)
@click.option("--company", help="Only this company (its id in company.toml).")
@click.option("--scheme", help="Only this scheme (see `paybonus plugins`).")
@click.option("--employee", help="Only this employee (employee_id in employees.csv).")
@click.option("--period", help="YYYY, YYYY-MM or YYYY-MM-DD..YYYY-MM-DD: entitlements overlapping it.")
@format_options()
@pass_state
def entitlements(
    state: State, company: str | None, scheme: str | None, employee: str | None, period: str | None, fmt: str
) -> None:
    """List recorded entitlements, in recording order. Amounts are integer cents in json, jsonl, csv and tsv;
    euros in the table. A --company or --scheme the ledger does not know is an error (exit 2)."""
    p = parse_period(period)
    with state.app() as app:
        rows = app.entitlement_rows(company, scheme, p, employee)
    total = sum(r["amount_cents"] for r in rows)
    render(rows, fmt, COLUMNS, TABLE, summary=f"{plural(len(rows), 'entitlement')}, total {euros(total)}")


@click.command(
    epilog="""\b
Examples:
  paybonus explain ENT-8d437629edb33ffd4c46      # an id from `paybonus entitlements`
  paybonus explain ENT-8d437629edb33ffd4c46 --format json | jq .explanation.steps"""
)
@click.argument("entitlement_id")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for a person, json (one object: every stored column, the explanation, the recomputed amount).",
)
@pass_state
def explain(state: State, entitlement_id: str, fmt: str) -> None:
    """Show why an entitlement is what it is (inputs, parameters, steps, rule ids from docs/rules.md), and
    recompute it from its stored explanation."""
    with state.app() as app:
        x = app.explain(entitlement_id)
    if fmt == "json":
        click.echo(json.dumps(x.to_dict(), ensure_ascii=False, indent=2))
        return
    row, expl = x.row, x.entitlement.explanation
    lines = [
        f"{row['id']}  {row['scheme']} {row['scheme_version']}  {row['company']} / {row['employee']}",
        f"period {row['period_start']}..{row['period_end']}  kind {row['kind']}  status {row['status']}",
        f"amount {euros(row['amount_cents'])}  due {row['due_date'] or '-'}  "
        f"DSN {row['dsn_block']} {row['dsn_code']}  regime {row['social_regime']}",
    ]
    if row["paid_cents"]:  # what a payment may still record (a payment above it is refused)
        left = row["amount_cents"] - row["paid_cents"]
        lines.append(f"paid {euros(row['paid_cents'])}  still due {euros(max(left, 0))}")
    if row["corrects"]:
        lines.append(f"relates to {row['corrects']}")
    lines += [f"caused by event {row['event_id']}", "rules: " + ", ".join(expl.rules)]
    for section, values in (("inputs", expl.inputs), ("parameters", expl.parameters)):
        lines.append(f"{section}:")
        lines += [f"  {k} = {json.dumps(v, ensure_ascii=False)}" for k, v in values.items()]
    lines.append("steps:")
    lines += [f"  {i}. {s}" for i, s in enumerate(expl.steps, 1)]
    if x.recomputed_cents is None:
        lines.append(f"cannot recompute: scheme {row['scheme']} is not installed")
    else:
        same = "matches" if x.recomputed_cents == row["amount_cents"] else "DIFFERS"
        lines.append(f"recomputed from the explanation: {euros(x.recomputed_cents)} ({same})")
    for line in lines:
        out.print(line, markup=False)


PLUGIN_FIELDS = ("name", "version", "distribution", "hooks", "schemes")


@click.command(
    epilog="""\b
Examples:
  paybonus plugins
  PAYBONUS_PLUGINS=interessement paybonus plugins   # only the intéressement family
  paybonus plugins --format json"""
)
@format_options()
@pass_state
def plugins(state: State, fmt: str) -> None:
    """List loaded plugins (name, version, distribution, hooks, schemes), then each scheme's events, DSN codes
    and social regime."""
    host = state.host()
    rows = [
        {
            "name": p.name,
            "version": p.version,
            "distribution": p.distribution,
            "hooks": [h.removeprefix("paybonus_") for h in p.hooks],
            "schemes": list(p.schemes),
        }
        for p in host.plugin_infos()
    ]
    if fmt != "table":
        render(rows, fmt, PLUGIN_FIELDS, [])
        return
    render(
        [{**r, "hooks": ", ".join(r["hooks"]), "schemes": ", ".join(r["schemes"])} for r in rows],
        fmt,
        PLUGIN_FIELDS,
        [Column("name", "plugin"), *(Column(f) for f in PLUGIN_FIELDS[1:])],
    )
    for name in sorted(host.schemes):
        s = host.schemes[name]
        out.print(
            f"scheme {s.name} {s.version}: {s.label}; handles {', '.join(sorted(s.handlers))}; "
            f"DSN {s.dsn.block} {s.dsn.code}; {s.social_regime}",
            markup=False,
        )
    for f in host.failures:
        out.print(f"not loaded: {f.name} ({f.error})", markup=False)
