"""What cog writes into docs/cli.md, docs/reference.md and docs/ledger.md (`make docs`; a test runs `cog --check`).

Everything here is read from the code: click's own --help, the attrs classes of company.toml, the legal parameters,
the ledger's schema and data/ledger.toml.
"""

from __future__ import annotations

import inspect
import os
import re
import sqlite3
import tempfile
import types
import typing
from pathlib import Path
from typing import Any

import attrs
import click
from click.testing import CliRunner

BUILT_IN_FAMILIES = "interessement,salary"  # the docs describe paybonus as shipped, without other plugins


def _commands(group: click.Group, prefix: str) -> list[tuple[str, click.Command]]:
    ctx = click.Context(group)
    found = []
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if cmd is None or cmd.hidden:
            continue
        found.append((f"{prefix} {name}", cmd))
        if isinstance(cmd, click.Group):
            found += _commands(cmd, f"{prefix} {name}")
    return found


def cli_reference() -> str:
    """One section per command, with its --help as click prints it (100 columns)."""
    os.environ["PAYBONUS_PLUGINS"] = BUILT_IN_FAMILIES
    from paybonus.cli import cli

    runner = CliRunner()
    out = []
    for name, _cmd in [("paybonus", cli), *_commands(cli, "paybonus")]:
        args = [*name.split()[1:], "--help"]
        r = runner.invoke(cli, args, prog_name="paybonus", terminal_width=100)
        assert r.exit_code == 0, (name, r.output)
        level = "#" * min(2 + name.count(" ") - 1, 3) if name != "paybonus" else "##"
        out.append(f"{level} `{name}`\n\n```text\n{r.output.rstrip()}\n```\n")
    return "\n".join(out)


def global_options() -> str:
    from paybonus.cli import cli

    rows = ["| option | default | what |", "|---|---|---|"]
    for p in cli.params:
        if not isinstance(p, click.Option) or p.name == "version":
            continue
        default = p.show_default if isinstance(p.show_default, str) else p.default
        if callable(default) or not isinstance(default, str | int):
            default = ""
        names = ", ".join(f"`{o}`" for o in p.opts)
        bar = " \\| "
        choices = f" ({bar.join(map(str, p.type.choices))})" if isinstance(p.type, click.Choice) else ""
        rows.append(f"| {names}{choices} | {'' if default in (None, False) else f'`{default}`'} | {p.help} |")
    return "\n".join(rows) + "\n"


# -- company.toml ---------------------------------------------------------------------------------------------


def _comments(cls: type) -> dict[str, str]:
    """The trailing `# comment` of each attribute line in the class's source (and its bases')."""
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        try:
            src = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        for m in re.finditer(r"^\s+(\w+): [^\n#]*?#\s*(.+)$", src, re.M):
            found[m.group(1)] = m.group(2).strip()
    return found


GENERIC = {
    "frequency": "How often it is computed: monthly, quarterly or annual.",
    "absences": "prorate: every absence that is not protected by law reduces it alike (LAW O-7, N-4); ignore.",
}

# what a key means where its class has no comment for it (keys are `scheme.path`, `company.key` for [company])
MEANINGS = {
    "company.id": "The company's id: how every command, event and export names it.",
    "company.name": "The company's name, on statements and in the views.",
    "company.siren": "The SIREN, copied onto statements.",
    "interessement.formula": "The pool's formula over the company's figures, in euros ([formula language](interessement.md#the-formula-language)).",
    "interessement.distribution": "Sub-pools, one per criterion, whose shares add up to 1 (LAW I-21, I-22).",
    "interessement.distribution[].criterion": "How the sub-pool is split: uniform, presence (days) or salary (LAW I-21).",
    "interessement.distribution[].share": "The sub-pool's part of the pool (0.30 for 30 %).",
    "interessement.distribution[].salary_floor": "Salary criterion: salaries below count as this amount, in euros (LAW I-23).",
    "interessement.distribution[].salary_ceiling": "Salary criterion: salaries above count as this amount, in euros (LAW I-23).",
    "interessement.starts_on": "First day of the agreement.",
    "interessement.period_months": "Calculation period: 3, 4, 6 or 12 months (LAW I-2).",
    "interessement.ends_on": "Last day of the agreement (1 to 5 years, LAW I-7).",
    "interessement.signed_on": "Signature date, checked against the conclusion deadline by `paybonus lint` (LAW I-8).",
    "interessement.deposited_on": "Deposit date on TéléAccords, checked by `paybonus lint` (LAW I-9).",
    "interessement.figures": "Figures the formula uses besides the standard ones (lower_snake_case).",
    "interessement.seniority_months": "Seniority required, at most 3 months (LAW I-13).",
    "interessement.reliquat": "What the individual cap leaves: redistribute it among the others, or keep it (LAW I-35, I-36).",
    "interessement.prorate_cap_by_presence": "The former name of cap_proration: true is days, false is none (LAW I-33).",
    "interessement.cap_proration": "The individual cap for a partial year: days under contract (default), months (monthly ceilings) or none (LAW I-33, [D-4](rules.md)).",
    "interessement.seniority_scope": "company, or group: contracts with other companies of the group count for seniority ([D-12](rules.md)).",
    "interessement.distribution[].salary_includes_cp_caisse": "Salary criterion: caisse de congés payés indemnities count as salary (default true, [D-13](rules.md)).",
    "interessement.late_interest_tmop": "Late interest: the TMOP in force on the payment date (published) or each day's half-year (per_semester) (LAW I-40, [D-1](rules.md)).",
    "interessement.advances": "Advances may be paid during the period (L3348-1, LAW I-41).",
    "interessement.advance_consent_days": "Days the employee has to consent after the letter (default: the décret's 15 days).",
    "interessement.company_heads": "Company heads, officers and spouses who benefit, one table each (L3312-3, LAW I-16, I-24).",
    "interessement.company_heads[].role": "head, officer or spouse.",
    "interessement.company_heads[].in_office_from": "First day in office.",
    "interessement.company_heads[].in_office_until": "Last day in office; empty while in office.",
    "interessement.company_heads[].income": 'Remuneration or taxed professional income of calendar years, euros ({ 2024 = "100000.00" }).',
    "interessement.setup": "How the agreement was set up, checked by `paybonus lint` (LAW I-7).",
    "interessement.ratification": "The staff's vote on a ratified draft: votes_for and staff (two thirds, LAW I-7).",
    "interessement.ratification.votes_for": "Votes for the draft.",
    "interessement.ratification.staff": "Staff entitled to vote.",
    "interessement.unilateral_ground": "A unilateral decision's ground: no_representatives or failed_negotiation (L3312-5 II).",
    "interessement.cse_consulted_on": "When the CSE was consulted on a unilateral decision after failed negotiation.",
    "interessement.covered_by_approved_branch_agreement": "The company is covered by an approved branch agreement (no unilateral decision then).",
    "interessement.renegotiation_requested_on": "When a party asked to renegotiate (ends the tacit renewal at the next expiry, LAW I-7).",
    "interessement_projet.participations[].distribution[].salary_includes_cp_caisse": "As for intéressement ([D-13](rules.md)).",
    "interessement_projet.late_interest_tmop": "As for intéressement (LAW I-40, [D-1](rules.md)).",
    "prime_nao.awards[].gross_basis": "The gross of percent_of_gross: protected months at full salary (default), every absence so, or the gross paid ([D-2](rules.md)).",
    "prime_objectif.plans[].nature": "unilateral (the employer sets them) or contractual (agreed with the employee) (LAW O-2).",
    "prime_objectif.plans[].communication_grace_days": "Days from the period's start within which objectives are timely (default: its first twelfth, [D-5](rules.md)).",
    "prime_objectif.plans[].contractual_fallback": "Contractual objectives not agreed in time: the last agreed formula, or the maximum ([D-6](rules.md)).",
    "prime_objectif.plans[].presence_proration": "Partial presence: prorate the amount, the thresholds of cumulative figures, or nothing ([D-7](rules.md)).",
    "prime_objectif.plans[].cumulative_figures": "With thresholds: the figures that accumulate over the period.",
    "company.average_headcounts": "Effectif annuel moyen of each calendar year ({ 2024 = 180 }): thresholds with the five-year rule (L130-1 CSS, LAW 0.4, [D-10](rules.md)).",
    "company.headcount": "The former single headcount: still read, without the five-year rule (LAW 0.4).",
    "company.fiscal_results": "Net taxable profit and turnover by exercise, for the value-sharing duty ([V-1](rules.md)).",
    "company.fiscal_results[].benefice_net_fiscal": "Bénéfice net fiscal (L3324-1 1°), euros.",
    "company.fiscal_results[].chiffre_affaires": "Turnover, euros.",
    "company.value_sharing": 'Participation, abondement or PPV applied for an exercise ({ 2025 = ["ppv"] }, [V-1](rules.md)).',
    "interessement.part_time": "Whether part-time employees' presence is prorated (LAW I-25).",
    "interessement.presence_conditions": "Refused: a condition of presence at a date is unlawful (LAW I-15).",
    "interessement.history": "Earlier exercises' figures, for the aléa check of `paybonus lint` (LAW I-1, I-3).",
    "interessement.history[].period": "The exercise.",
    "interessement.history[].figures": "Its figures, in euros.",
    "interessement_projet.participations": "The projects the company takes part in, one table each (LAW P-1).",
    "interessement_projet.participations[].project": "The project's id (project.toml).",
    "interessement_projet.participations[].entity": "The company's entity in the project (project.toml).",
    "interessement_projet.participations[].distribution": "How the company splits its part (as for intéressement).",
    "interessement_projet.participations[].seniority_months": "Seniority required, at most 3 months (LAW I-13).",
    "interessement_projet.participations[].reliquat": "redistribute or keep what the individual cap leaves.",
    "interessement_projet.participations[].part_time": "Whether part-time presence is prorated.",
    "interessement_projet.participations[].prorate_cap_by_presence": "The former name of cap_proration.",
    "interessement_projet.participations[].cap_proration": "As for intéressement: days, months or none (LAW I-33, [D-4](rules.md)).",
    "interessement_projet.participations[].seniority_scope": "As for intéressement ([D-12](rules.md)).",
    "prime_objectif.plans": "The objective plans, one table each.",
    "prime_objectif.plans[].id": "The plan's id, named by objective_results_published events.",
    "prime_objectif.plans[].members": "Employee ids the plan applies to.",
    "prime_objectif.plans[].formula": "The amount's formula over the plan's and the employee's figures.",
    "prime_objectif.plans[].max_amount": "Maximum variable amount, in euros (due in full when objectives were not set, LAW O-2).",
    "prime_objectif.plans[].communicated_on": "When the objectives were notified (late or missing: LAW O-2).",
    "prime_objectif.plans[].language": "Language of the objectives: fr (LAW O-3).",
    "prime_objectif.plans[].scope": "individual or collective objectives.",
    "prime_objectif.plans[].figures": "Figures the formula uses.",
    "interessement_projet.participations[].distribution[].share": "The sub-pool's part (0.30 for 30 %).",
    "interessement_projet.participations[].distribution[].salary_floor": "Salary criterion floor, in euros.",
    "interessement_projet.participations[].distribution[].salary_ceiling": "Salary criterion ceiling, in euros.",
    "prime_objectif.dsn_code": "DSN type code in S21.G00.52: 026, 027 (default) or 028.",
    "prime_nao.dsn_code": "DSN type code in S21.G00.52: 026, 027 or 028 (default).",
    "pmt.dsn_code": "DSN type code in S21.G00.52: 026, 027 or 028 (default).",
    "prime_nao.awards": "The bonuses decided in the annual negotiation, one table each (LAW N-1).",
    "prime_nao.awards[].id": "The award's id.",
    "prime_nao.awards[].reference_period": "The period the award rewards.",
    "prime_nao.awards[].present_on": "A presence date the agreement sets (applied uniformly, LAW N-4).",
    "prime_nao.awards[].min_presence_days": "Days of presence required.",
    "prime_nao.awards[].part_time": "prorate by working time, or none.",
    "prime_nao.awards[].instalments": "Payment in instalments: a date and a share each.",
    "prime_nao.awards[].instalments[].date": "When the instalment is paid.",
    "prime_nao.awards[].instalments[].share": "Its part of the award (shares add up to 1).",
    "pmt.criteria": "The expertise criteria (certifications, missions), with their points.",
    "pmt.criteria[].id": "The criterion's id, named by evidence_recorded events.",
    "pmt.criteria[].label": "What it is.",
    "pmt.criteria[].points": "Points it gives.",
    "pmt.levels": "Levels reached with points, each with its amount or rate.",
    "pmt.levels[].name": "The level's name.",
    "pmt.levels[].min_points": "Points needed.",
}


def _type_name(t: Any) -> str:
    if isinstance(t, str):
        return t
    origin = typing.get_origin(t)
    args = typing.get_args(t)
    if origin is typing.Literal:
        return " \\| ".join(f'"{a}"' for a in args)
    if origin in (typing.Union, types.UnionType):
        parts = [_type_name(a) for a in args if a is not type(None)]
        return " \\| ".join(parts) + (" (optional)" if type(None) in args else "")
    if origin in (list, tuple):
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"table of {_type_name(args[1])}" if args else "table"
    names = {
        "str": "string",
        "int": "integer",
        "bool": "true/false",
        "Decimal": 'decimal ("0.30")',
        "date": "date (2025-01-01)",
        "Period": 'period ("2025" or "2025-01-01..2025-03-31")',
    }
    return names.get(getattr(t, "__name__", str(t)), getattr(t, "__name__", str(t)))


def _default(a: attrs.Attribute[Any]) -> str:
    if a.default is attrs.NOTHING:
        return "required"
    d = a.default
    if isinstance(d, attrs.Factory):  # type: ignore[arg-type]
        d = d.factory()
    if d is None:
        return ""
    if isinstance(d, bool):
        return f"`{str(d).lower()}`"
    if d in ([], {}, ()):
        return "`[]`" if not isinstance(d, dict) else "`{}`"
    return f'`"{d}"`' if isinstance(d, str) else f"`{d}`"


def _nested(t: Any) -> type | None:
    for candidate in (t, *typing.get_args(t)):
        if isinstance(candidate, type) and attrs.has(candidate):
            return candidate
        for inner in typing.get_args(candidate):
            if isinstance(inner, type) and attrs.has(inner):
                return inner
    return None


def _key_rows(cls: type, prefix: str, seen: set[type], scheme: str) -> list[str]:
    from paybonus.calendar import Period

    rows = []
    hints = typing.get_type_hints(cls)
    comments = _comments(cls)
    for a in attrs.fields(cls):
        if not a.init:
            continue
        t = hints.get(a.name, a.type)
        meaning = (
            MEANINGS.get(f"{scheme}.{prefix}{a.name}") or comments.get(a.name) or GENERIC.get(a.name, "")
        )
        if meaning and meaning[0].islower():
            meaning = meaning[0].upper() + meaning[1:]
        rows.append(f"| `{prefix}{a.name}` | {_type_name(t)} | {_default(a)} | {meaning} |")
        sub = _nested(t)
        if sub is not None and sub not in seen and sub is not Period:
            many = typing.get_origin(t) in (list, tuple) or any(
                typing.get_origin(x) in (list, tuple) for x in typing.get_args(t)
            )
            rows += _key_rows(sub, f"{prefix}{a.name}{'[]' if many else ''}.", seen | {sub}, scheme)
    return rows


def company_keys() -> str:
    """Every key of company.toml: [company], then each built-in scheme's table."""
    os.environ["PAYBONUS_PLUGINS"] = BUILT_IN_FAMILIES
    from paybonus.hooks.types import CompanyInfo
    from paybonus.host import load_plugins

    header = ["| key | type | default | meaning |", "|---|---|---|---|"]
    out = ["### `[company]`\n", *header, *_key_rows(CompanyInfo, "", set(), "company"), ""]
    host = load_plugins(entry_points=False)
    for name in sorted(host.schemes):
        s = host.schemes[name]
        out.append(f"### `[schemes.{name}]`: {s.label}\n")
        if s.config_type is None:
            out += ["No keys: an empty table turns the scheme on.", ""]
            continue
        doc = inspect.cleandoc(s.config_type.__doc__ or "").split("\n\n")[0].replace("\n", " ")
        if doc and not doc.startswith(s.config_type.__name__ + "("):
            out += [doc, ""]
        out += [*header, *_key_rows(s.config_type, "", {s.config_type}, name), ""]
    return "\n".join(out)


def parameters() -> str:
    """The legal parameters shipped (name, unit, rule, source, latest value)."""
    from paybonus.params import Parameters

    p = Parameters.default()
    rows = ["| parameter | unit | rule | values from | source |", "|---|---|---|---|---|"]
    for name in p.names():
        x = p.parameter(name)
        first = min(v.valid_from for v in x.values)
        rows.append(f"| `{name}` | {x.unit} | {x.law} | {first} | {x.source} |")
    return "\n".join(rows) + "\n"


# -- the ledger -----------------------------------------------------------------------------------------------


def ledger_schema() -> str:
    """Every table and view of a new ledger, with data/ledger.toml's descriptions, then the canned queries."""
    from paybonus.browse import column_description, description
    from paybonus.store import Ledger
    from paybonus.store.queries import CANNED_QUERIES

    d = description()
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        Ledger.create(Path(tmp) / "l.db").close()
        conn = sqlite3.connect(Path(tmp) / "l.db")
        objects = conn.execute(
            "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' "
            "ORDER BY type DESC, name"
        ).fetchall()
        for kind_title, kind in (("Views", "view"), ("Tables", "table")):
            out.append(f"## {kind_title}\n")
            for name, k in objects:
                if k != kind:
                    continue
                info = {**d["tables"], **d["views"]}.get(name, {})
                out.append(f"### `{name}`\n\n{info.get('description', '')}\n")
                out += ["| column | type | meaning |", "|---|---|---|"]
                for _cid, col, ctype, notnull, _dflt, pk in conn.execute(f"PRAGMA table_info({name})"):
                    flags = " (primary key)" if pk else (" not null" if notnull and kind == "table" else "")
                    unit = info.get("units", {}).get(col)
                    meaning = (column_description(name, col) or "") + (f" Unit: {unit}." if unit else "")
                    out.append(f"| `{col}` | {ctype or 'any'}{flags} | {meaning} |")
                out.append("")
        conn.close()
    out.append("## Canned queries (`paybonus browse`)\n")
    for name, sql in CANNED_QUERIES.items():
        q = d["queries"][name]
        out.append(f"### {q['title']} (`{name}`)\n\n{q['description']}\n\n```sql\n{sql}\n```\n")
    return "\n".join(out)
