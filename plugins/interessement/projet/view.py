"""What the project commands read from a ledger: each entity's measure, and the per-entity project view.

Totals only: nothing here names a person or their amount.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from paybonus.calendar import Period
from paybonus.errors import UserError
from paybonus.hooks import Kind, LedgerView

from .agreement import ProjectAgreement, ProjectSettings
from .compute import EVENT, SCHEME
from .statement import Measure, measure

if TYPE_CHECKING:
    from paybonus.app import Paybonus


def measure_here(app: Paybonus, ag: ProjectAgreement, p: Period, company: str | None) -> dict[str, Measure]:
    """Measures of the entities whose company is in this ledger; their pay period must be closed."""
    loaded = set(app.companies())
    found: dict[str, Measure] = {}
    for e in ag.entities:
        if e.company not in loaded or (company is not None and e.company != company):
            continue
        window = ag.window(e, p)
        if window is not None:
            closed = [
                x for x in app.view.events(e.company, "period_closed") if x.payload.period.end == window.end
            ]
            if not closed:
                raise UserError(
                    f"company {e.company}",
                    f"the pay period ending {window.end} is not closed: measure entity {e.id} once its payroll is final",
                )
        found[e.id] = measure(ag, e, p, partial(app.population, e.company))
    return found


def projects_of(app: Paybonus, company: str) -> set[str]:
    """Projects the company's configuration takes part in."""
    settings: ProjectSettings | None = app.scheme_config(company, SCHEME)
    return {p.project for p in settings.participations} if settings else set()


def project_view(ledger: LedgerView, companies: list[str], project_id: str) -> list[dict[str, Any]]:
    """Per period and entity: the statement's pool and, for companies in this ledger, the net amount distributed."""
    latest: dict[str, tuple[str, Any]] = {}
    here: set[str] = set()
    for company in companies:
        for e in ledger.events(company, EVENT):
            if e.payload.project != project_id:
                continue
            here.add(e.company)
            key = e.payload.period.key
            if key not in latest or latest[key][0] <= e.occurred_at.isoformat():
                latest[key] = (e.occurred_at.isoformat(), e.payload.statement)
    net: dict[tuple[str, str], dict[str, int]] = {}
    for company in sorted(here):
        for r in ledger.entitlements(company, SCHEME):
            if r.explanation.inputs.get("project") != project_id or r.kind is Kind.INTEREST:
                continue
            per = net.setdefault((r.period.key, r.explanation.inputs["entity"]), {})
            per[r.employee] = per.get(r.employee, 0) + r.amount_cents
    rows = []
    for key in sorted(latest):
        statement = latest[key][1]
        for part in statement["entities"]:
            got = net.get((key, part["entity"]))
            rows.append(
                {
                    "period": key,
                    "entity": part["entity"],
                    "company": part["company"],
                    "statement": statement["hash"],
                    "entity_pool_cents": part["pool_cents"],
                    "distributed_cents": None if part["company"] not in here else sum((got or {}).values()),
                    "beneficiaries": None
                    if part["company"] not in here
                    else sum(1 for v in (got or {}).values() if v > 0),
                }
            )
    return rows
