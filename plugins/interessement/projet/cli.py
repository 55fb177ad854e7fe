"""`paybonus project ...`: check a project agreement, measure entities, issue and import statements, show totals.

One shared ledger (every company in one paybonus database) or one ledger per company: the commands are the same,
only where the measures come from differs. See docs/interessement-projet.md.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import click
import structlog
from attrs import frozen
from paybonus import signing
from paybonus.calendar import Period
from paybonus.convert import FIRST_YEAR, LAST_YEAR, structure
from paybonus.errors import UserError, VerificationFailed
from paybonus.events import Event, canonical_json
from paybonus.hooks import CommandContext
from paybonus.money import format_euros
from paybonus.outputs import check_file, write_text
from paybonus.parsing import MAX_FILE_BYTES, json_error, read_bounded
from rich.console import Console
from rich.table import Table

from .agreement import ProjectAgreement, load_project_toml
from .compute import EVENT, SCHEME
from .statement import Measure, build, check_signature, measures_file, read_measures, sign, verify
from .view import measure_here, project_view, projects_of

log = structlog.get_logger("paybonus.project")
pass_state = click.pass_obj  # the command receives the host's CommandContext (paybonus.hooks)


@frozen
class ProjectResults:
    """The coordinator's input: the project's figures for one calculation period (project_results.json)."""

    project: str
    period: Period
    figures: dict[str, Decimal]


@click.group()
def project() -> None:
    """Intéressement de projet across companies: check, measure, statement, import, show."""


@project.command("check")
@click.argument("project_toml", type=click.Path(path_type=Path))
@pass_state
def check_cmd(state: CommandContext, project_toml: Path) -> None:
    """Validate a project agreement and list its calculation periods and entities."""
    ag = _agreement(state, project_toml)
    state.echo(
        f"{ag.id} ({ag.name}), version {ag.version}: {ag.starts_on} to {ag.ends_on}, split by {ag.split}, "
        f"agreement digest {ag.digest()[:16]}"
    )
    for p in ag.periods():
        taking = [e.id for e in ag.entities if ag.window(e, p)]
        state.echo(f"  period {p}: {', '.join(taking)}")


@project.command("measure")
@click.argument("project_toml", type=click.Path(path_type=Path))
@click.option(
    "--period", required=True, help="A calculation period of the project, e.g. 2025-01-01..2025-12-31."
)
@click.option("--company", help="Only this company's entities (default: every company in the ledger).")
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), help="Write the measures here (default: stdout)."
)
@pass_state
def measure_cmd(
    state: CommandContext, project_toml: Path, period: str, company: str | None, output: Path | None
) -> None:
    """Measure this ledger's entities over a period (employee-days, payroll): totals only, for the coordinator."""
    _not_an_input(output, project_toml)
    ag = _agreement(state, project_toml)
    p = _project_period(ag, period)
    if output is not None:
        check_file(output, "--output")
    with state.app() as app:
        found = measure_here(app, ag, p, company)
    if not found:
        raise UserError(
            "--company" if company else state.db, f"no entity of {ag.id} is loaded in this ledger"
        )
    _write(output, measures_file(ag, p, list(found.values())))
    log.info("project.measures.written", project=ag.id, period=p.key, entities=len(found))
    state.echo(
        f"measured {len(found)} {'entity' if len(found) == 1 else 'entities'} of {ag.id} for {p}", err=True
    )


@project.command("statement")
@click.argument("project_toml", type=click.Path(path_type=Path))
@click.argument("results_file", type=click.Path(path_type=Path))
@click.option(
    "--measures",
    "measure_files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Measures files from the companies (repeat).",
)
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), help="Write the statement here (default: stdout)."
)
@click.option("--issued-at", help="Timestamp of the statement (default: now).")
@click.option(
    "--key",
    type=click.Path(path_type=Path),
    help="The coordinator's signing key (default $PAYBONUS_SIGNING_KEY; none: the statement is not signed).",
)
@pass_state
def statement_cmd(
    state: CommandContext,
    project_toml: Path,
    results_file: Path,
    measure_files: tuple[Path, ...],
    output: Path | None,
    issued_at: str | None,
    key: Path | None,
    db: str | None = None,
) -> None:
    """Issue the project statement: the pool from the project figures, split between entities by the key."""
    _not_an_input(output, project_toml, results_file, *measure_files)
    ag = _agreement(state, project_toml)
    try:
        results = structure(_read_json(results_file), ProjectResults)
    except ValueError as exc:
        raise UserError(str(results_file), str(exc)) from None
    if results.project != ag.id:
        raise UserError(str(results_file), f"project: {results.project!r}, the agreement is {ag.id!r}")
    p = _project_period(ag, results.period.key, str(results_file))
    measures: dict[str, Measure] = {}
    for f in measure_files:
        try:
            read = read_measures(_read_json(f), ag, p)
        except ValueError as exc:
            raise UserError(str(f), str(exc)) from None
        for m in read:
            if m.entity in measures:
                raise UserError(str(f), f"entity {m.entity} is measured twice")
            measures[m.entity] = m
    db = db or state.db  # the demo passes its own ledger
    if ag.split != "fixed" and Path(db).is_file():  # shared ledger: measure what the files did not
        with state.app(db) as app:
            for entity, m in measure_here(app, ag, p, None).items():
                measures.setdefault(entity, m)
    when = datetime.now(UTC)
    if issued_at:
        try:
            when = structure(issued_at, datetime)
        except ValueError as exc:
            raise UserError("--issued-at", str(exc)) from None
    try:
        statement = build(ag, p, results.figures, measures, when)
    except ValueError as exc:
        raise UserError(str(results_file), str(exc)) from None
    if key is not None or os.environ.get(signing.KEY_ENV, "").strip():
        statement = sign(statement, signing.load_key(key))
    else:
        state.echo(
            "note: the statement is not signed (give --key): companies that trust a coordinator_key refuse it",
            err=True,
        )
    _write(output, statement)
    log.info(
        "project.statement.issued",
        project=ag.id,
        period=p.key,
        statement=statement["hash"],
        entities=sum(1 for e in statement["entities"] if e["weight"]),
    )
    signer = statement.get("signature", {}).get("public_key")
    state.echo(
        f"statement {statement['hash'][:16]} for {ag.id} {p}: pool {format_euros(statement['pool_cents'], french=True)} "
        f"split between {sum(1 for e in statement['entities'] if e['weight'])} entities"
        + (f", signed by key {signing.key_id(signer)}" if signer else ""),
        err=True,
    )


@project.command("import")
@click.argument("statement_file", type=click.Path(path_type=Path))
@click.option("--company", help="Only this company (default: every company of the statement in the ledger).")
@pass_state
def import_cmd(
    state: CommandContext, statement_file: Path, company: str | None, db: str | None = None
) -> None:
    """Record a project statement for this ledger's companies and compute their parts."""
    data = _read_json(statement_file)
    try:
        st = verify(data, state.params())
        signer = check_signature(data, None)
    except ValueError as exc:
        raise UserError(str(statement_file), str(exc)) from None
    from . import ProjectResultsPublished

    mine = sorted({x.company for x in st.parts})
    if company is not None and company not in mine:
        raise UserError("--company", f"{company} has no entity in project {st.project}")
    with state.app(db) as app:
        loaded = set(app.companies())
        targets = [c for c in mine if (company is None or c == company) and c in loaded]
        if not targets:
            raise UserError(str(statement_file), f"none of {', '.join(mine)} is loaded in this ledger")
        participating = {c: projects_of(app, c) for c in targets}
        issued = structure(data["issued_at"], datetime)
        events = [
            (
                str(statement_file),
                Event(
                    f"{st.project}:{st.period.start:%Y%m}-{st.period.end:%Y%m}:{st.hash[:16]}@{c}",
                    EVENT,
                    c,
                    issued,
                    ProjectResultsPublished(st.project, st.period, data),
                ),
            )
            for c in targets
        ]
        outcomes = app.publish(events).outcomes
    log.info(
        "project.statement.imported",
        project=st.project,
        period=st.period.key,
        statement=st.hash,
        signed_by=signer,
        companies=len(events),
    )
    for (_, e), o in zip(events, outcomes, strict=True):
        if st.project not in participating.get(e.company, ()):
            state.echo(
                f"warning: {e.company} has no [[schemes.interessement_projet.participations]] for {st.project}: "
                "the statement is recorded, nothing is computed",
                err=True,
            )
        done = [d for d in o.dispatches if d.scheme == SCHEME]
        state_text = "already recorded" if o.duplicate else "recorded"
        counts = f"{sum(d.entitlements for d in done)} entitlements" if done else "no dispatch"
        failed = [d for d in done if d.status != "completed"]
        state.echo(
            f"{e.company}: statement {state_text}, {counts}"
            + (" (FAILED: see `paybonus failures`)" if failed else "")
        )


@project.command("show")
@click.argument("project_id")
@click.option("--period", help="Only this calculation period.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_state
def show_cmd(
    state: CommandContext, project_id: str, period: str | None, fmt: str, db: str | None = None
) -> None:
    """The project view: per entity, its pool and what this ledger distributed (totals only, never a person).
    A project or a --period this ledger has no statement of is an error (exit 2)."""
    key = _period_text(period) if period else None  # checked before the ledger opens
    with state.app(db) as app:
        rows = project_view(app.view, app.companies(), project_id)
    if not rows:
        raise UserError(project_id, f"no statement of project {project_id} in {db or state.db}")
    if key is not None:
        known = sorted({r["period"] for r in rows})
        rows = [r for r in rows if r["period"] == key]
        if not rows:
            raise UserError("--period", f"{key} is not a period of project {project_id} ({', '.join(known)})")
    if fmt == "json":
        click.echo(canonical_json(rows))
        return
    t = Table(title=f"project {project_id}")
    for c in (
        "period",
        "entity",
        "company",
        "entity pool",
        "distributed",
        "not distributed",
        "beneficiaries",
    ):
        t.add_column(c, justify="right" if c not in ("period", "entity", "company") else "left")
    for r in rows:
        dist = r["distributed_cents"]
        t.add_row(
            r["period"],
            r["entity"],
            r["company"],
            format_euros(r["entity_pool_cents"], french=True),
            "-" if dist is None else format_euros(dist, french=True),
            "-" if dist is None else format_euros(r["entity_pool_cents"] - dist, french=True),
            "-" if dist is None else str(r["beneficiaries"]),
        )
    if not sys.stdout.isatty():  # piped: plain text in aligned columns, as every paybonus table
        t.box, t.show_edge, t.header_style, t.title_style = None, False, "", ""
    Console(soft_wrap=True, width=None if sys.stdout.isatty() else 10_000).print(t)


@project.command("demo")
@click.option(
    "--demo-db", default="paybonus-project-demo.db", show_default=True, help="Ledger to (re)create."
)
@click.option(
    "--force", is_flag=True, help="Replace the ledger even if it holds other companies than the example's."
)
@click.pass_context
def demo_cmd(ctx: click.Context, demo_db: str, force: bool) -> None:
    """Run the shipped three-company example in one database: load, close the year, statement, import, audit."""
    state: CommandContext = ctx.obj
    demo_db = state.demo_ledger("demo_db", demo_db, force, "--demo-db")
    example = Path(str(resources.files("paybonus.fixtures").joinpath("project_sample")))
    companies = ("ALPHA", "MEGA", "BETA")
    with state.app(demo_db, fresh_for=companies, force=force) as app:
        for cid in companies:
            loaded = app.load_company(example / cid)
            c = app.publish(example / cid / "events.jsonl").counts
            state.echo(
                f"loaded {cid}: {loaded.employees} employees; {c['events']} events, {c['entitlements']} entitlements"
            )
    statement = Path(demo_db).with_suffix(".statement.json")
    with (
        tempfile.TemporaryDirectory() as tmp
    ):  # the coordinator signs its statement (here with a throwaway key)
        key = Path(tmp) / "coordinator.pem"
        signing.new_key(key)
        ctx.invoke(
            statement_cmd,
            project_toml=example / "project.toml",
            results_file=example / "results-2025.json",
            measure_files=(),
            output=statement,
            issued_at=None,
            key=key,
            db=demo_db,
        )
    ctx.invoke(import_cmd, statement_file=statement, company=None, db=demo_db)
    ctx.invoke(show_cmd, project_id="ATLAS", period=None, fmt="table", db=demo_db)
    with state.app(demo_db) as app:
        rep = app.verify()
    state.echo(
        f"audit: {'OK' if rep.ok else 'FAILED'} ({rep.entries} entries, {rep.recomputed} amounts recomputed); "
        f"statement at {statement}; try: paybonus --db {demo_db} entitlements --scheme interessement_projet"
    )
    if not rep.ok:
        raise VerificationFailed(str(rep.problems[0]))


# -- helpers --------------------------------------------------------------------------------------------------


def _agreement(state: CommandContext, path: Path) -> ProjectAgreement:
    try:
        text = read_bounded(path, MAX_FILE_BYTES).decode("utf-8")
    except OSError as exc:
        raise UserError(str(path), f"cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise UserError(str(path), "not UTF-8 text") from None
    return load_project_toml(text, state.params(), str(path))


def _project_period(ag: ProjectAgreement, text: str, where: str = "--period") -> Period:
    try:
        p = Period.parse(text)
    except ValueError as exc:
        raise UserError(where, str(exc)) from None
    if p not in ag.periods():
        raise UserError(
            where, f"{p} is not a calculation period of {ag.id} ({', '.join(x.key for x in ag.periods())})"
        )
    return p


def _period_text(text: str) -> str:
    try:
        p = Period.parse(text)
    except ValueError as exc:
        raise UserError("--period", str(exc)) from None
    if not (p.start.year >= FIRST_YEAR and p.end.year <= LAST_YEAR):
        raise UserError("--period", f"{text} is outside the years {FIRST_YEAR} to {LAST_YEAR}")
    return p.key


def _read_json(path: Path) -> Any:
    try:
        text = read_bounded(path, MAX_FILE_BYTES).decode("utf-8")
    except OSError as exc:
        raise UserError(str(path), f"cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise UserError(str(path), "not UTF-8 text") from None
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}:{exc.lineno}", json_error(exc)) from None


def _not_an_input(output: Path | None, *inputs: Path) -> None:
    """The output replaces its file: naming one of the command's inputs (the agreement, the results) lost it."""
    if output is not None and output.resolve() in {i.resolve() for i in inputs}:
        raise UserError(f"--output {output}", "is an input of this command: name another file")


def _write(output: Path | None, data: Any) -> None:
    text = json.dumps(json.loads(canonical_json(data)), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    check_file(output, "--output")
    tmp = output.with_name(output.name + ".tmp")
    write_text(tmp, text, "--output")
    try:
        tmp.replace(output)
    except OSError as exc:
        raise UserError(f"--output {output}", f"cannot write ({exc.strerror})") from None
